/**
 * Container images as analyze targets: an image built with umoci (whiteouts, a later step's caches, an
 * opaque directory, a hard link), converted by skopeo to a `docker save` archive and a zstd OCI archive,
 * and tarred as Docker 25+ writes it, reads kind by kind as `umoci unpack` of it reads from disk; the layer
 * table adds up; bad input is one line and exit 2.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { CheckReport } from '../src/check/check.js';
import { KIND_NAMES } from '../src/model/kinds.js';
import type { AnalyzeReport } from '../src/report/analyze-report.js';
import { runCli } from './helpers/cli.js';
import {
  type BuiltImage,
  buildImage,
  handLayout,
  haveTool,
  IMAGE_TOOLS,
  tarOf,
  toDocker25Archive,
  toDockerArchive,
  toOciArchive,
} from './helpers/image.js';
import { have } from './helpers/need.js';
import { interpreter, stdlibOf } from './helpers/python.js';
import { removeTree, tempDir } from './helpers/tree.js';

function checkJson(args: string[]): CheckReport {
  const r = runCli(['check', '--json', ...args]);
  assert.equal(r.status, 1, r.stderr);
  return JSON.parse(r.stdout) as CheckReport;
}

function analyzeJson(args: string[]): AnalyzeReport {
  const r = runCli(['analyze', '--json', ...args]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as AnalyzeReport;
}

/** The same bytes kind by kind (directories: counts only, an archive has no directory sizes) and identity. */
function assertSameFootprint(img: AnalyzeReport, dir: AnalyzeReport, what: string): void {
  for (const k of KIND_NAMES) {
    const a = img.totals[k];
    const b = dir.totals[k];
    assert.equal(a.files, b.files, `${what}: ${k} files`);
    assert.equal(a.paths, b.paths, `${what}: ${k} paths`);
    if (k !== 'directory') assert.equal(a.apparentBytes, b.apparentBytes, `${what}: ${k} apparent bytes`);
    assert.equal(a.allocatedBytes, 0, `${what}: ${k}: an archive has no blocks`);
  }
  const { dedupable: da, ...ia } = img.bytecode;
  const { dedupable: db, ...ib } = dir.bytecode;
  assert.deepEqual(ia, ib, `${what}: bytecode identity`);
  assert.equal(da.pairs, db.pairs, `${what}: dedupable pairs`);
  assert.equal(da.apparentBytes, db.apparentBytes, `${what}: dedupable bytes`);
  assert.deepEqual(
    img.distributions.map((d) => [d.name, d.version, d.files]),
    dir.distributions.map((d) => [d.name, d.version, d.files]),
    `${what}: distributions`,
  );
  const fileBytes = (m: AnalyzeReport['modules'][number]): number[] =>
    KIND_NAMES.filter((k) => k !== 'directory').map((k) => m.kinds[k].apparentBytes);
  const byName = (r: AnalyzeReport): Array<[string, number, number[]]> =>
    r.modules.map((m): [string, number, number[]] => [m.name, m.files, fileBytes(m)]).sort();
  assert.deepEqual(byName(img), byName(dir), `${what}: modules`);
}

/**
 * The strategies an image can be estimated for save what they save on the unpacked tree (no-python aside:
 * it frees the directories too, which an archive gives no size); those needing contents are named instead.
 */
function assertSameEstimates(img: AnalyzeReport, dir: AnalyzeReport | undefined, what: string): void {
  const left = img.image?.notEstimated ?? [];
  for (const id of ['pysources', 'compress-pyc', 'zip-stdlib'])
    assert.ok(left.includes(id), `${what}: ${id}`);
  assertSourceless(img, dir!, what);
  const estimated = img.strategies.map((s) => s.id).filter((id) => id !== 'no-python' && id !== 'sourceless');
  assert.ok(estimated.includes('drop-optimized') && estimated.includes('dedup'), what);
  for (const id of estimated) {
    const a = img.strategies.find((s) => s.id === id)!;
    const b = dir!.strategies.find((s) => s.id === id)!;
    assert.equal(a.saved.apparentBytes, b.saved.apparentBytes, `${what}: ${id}`);
    assert.equal(a.saved.allocatedBytes, 0, `${what}: ${id}: no blocks`);
  }
  assert.ok(img.strategies.find((s) => s.id === 'drop-optimized')!.saved.apparentBytes > 0, what);
}

/**
 * sourceless, estimated from the level-0 caches' code file names read while streaming: what the unpacked tree
 * saves, less at most its directories' bytes (the __pycache__ directories it empties; an archive gives
 * directories no size).
 */
function assertSourceless(img: AnalyzeReport, dir: AnalyzeReport, what: string): void {
  const a = img.strategies.find((s) => s.id === 'sourceless')!.saved.apparentBytes;
  const b = dir.strategies.find((s) => s.id === 'sourceless')!.saved.apparentBytes;
  assert.ok(a > 0, `${what}: sourceless saves`);
  assert.ok(b - a >= 0 && b - a <= dir.totals.directory.apparentBytes, `${what}: sourceless ${a} vs ${b}`);
}

function toolsHere(t: TestContext): boolean {
  for (const tool of IMAGE_TOOLS)
    if (!have(t, haveTool(tool), `${tool} (Debian package ${tool})`)) return false;
  return true;
}

describe('an image built with umoci and skopeo', () => {
  let work = '';
  let img: BuiltImage | undefined;
  let targets: Record<string, string> = {};
  let unpacked: AnalyzeReport | undefined;
  let withEstimates: AnalyzeReport | undefined;

  before(() => {
    const py = interpreter('3.13');
    const py12 = interpreter('3.12');
    if (!IMAGE_TOOLS.every(haveTool) || py === undefined || py12 === undefined) return;
    work = tempDir('pyfloppy-image-');
    const stdlib = stdlibOf(py);
    const other = path.join(stdlibOf(py12), 'email', '__pycache__', 'utils.cpython-312.pyc');
    img = buildImage(work, stdlib, other);
    targets = {
      'OCI layout (gzip)': img.layout,
      'docker save archive (skopeo docker-archive:)': toDockerArchive(img, path.join(work, 'docker.tar')),
      'Docker 25+ docker save archive (OCI blobs, manifest.json)': toDocker25Archive(
        img,
        work,
        path.join(work, 'docker25.tar'),
      ),
      'OCI archive (zstd)': toOciArchive(img, path.join(work, 'oci-zstd.tar')),
    };
    unpacked = analyzeJson([img.rootfs, '--no-strategies']);
    withEstimates = analyzeJson([img.rootfs]);
  });
  after(() => {
    if (work !== '') removeTree(work);
  });

  test('every format reads, kind by kind, as analyze of umoci unpack of it', (t) => {
    if (!toolsHere(t) || !have(t, interpreter('3.13') && interpreter('3.12'), 'CPython 3.13 and 3.12'))
      return;
    const dir = unpacked!;
    // The root file system directory stands for the stdlib found in it.
    assert.deepEqual(
      dir.roots.map((r) => [r.labels, r.realPath.endsWith('/usr/lib/python3.13')]),
      [[['stdlib'], true]],
    );
    // What the fixture promises: opt-2 caches only for json (a later step), a hard link, identical levels.
    assert.equal(dir.bytecode.withLevel[2], dir.totals['bytecode-2'].files);
    assert.ok(dir.bytecode.withLevel[2] > 0 && dir.bytecode.withLevel[2] < dir.bytecode.withLevel[0]);
    assert.equal(dir.totals.source.paths, dir.totals.source.files + 1);
    assert.ok(dir.bytecode.identical01 > 0);
    assert.deepEqual(Object.keys(dir.bytecode.tags).sort(), ['cpython-312', 'cpython-313']);
    for (const [what, target] of Object.entries(targets)) {
      const r = analyzeJson([target]);
      assertSameFootprint(r, dir, what);
      assert.equal(r.image?.python.version, '3.13', what);
      assert.equal(r.image?.layers.length, 4, what);
      assertSameEstimates(r, withEstimates, what);
    }
  });

  test('the layer table adds up and names what each step did', (t) => {
    if (!toolsHere(t) || !have(t, interpreter('3.13') && interpreter('3.12'), 'CPython 3.13 and 3.12'))
      return;
    const r = analyzeJson([img!.layout]);
    const rows = r.image!.layers;
    const sum = (f: (x: (typeof rows)[number]) => number): number => rows.reduce((s, x) => s + f(x), 0);
    const added = sum((x) => Object.values(x.added).reduce((a, b) => a + b, 0));
    let visible = 0;
    for (const k of KIND_NAMES)
      if (k !== 'directory' && k !== 'symlink') visible += r.totals[k].apparentBytes;
    assert.equal(
      added - sum((x) => x.hiddenLater.apparentBytes),
      visible,
      'added - hidden = what the container sees',
    );
    assert.equal(
      sum((x) => x.hides.apparentBytes),
      sum((x) => x.hiddenLater.apparentBytes),
    );
    assert.deepEqual(
      rows.map((x) => x.command),
      [
        'COPY python /usr/lib/python3.13',
        "find / -name '*.opt-2.pyc' -delete",
        'python3 -m compileall json',
        'RUN replace email/mime',
      ],
    );
    const [l1, l2, l3, l4] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
    assert.equal(l2.addedFiles, 0);
    assert.equal(
      l2.hides.apparentBytes,
      l1.added['bytecode-2'],
      'layer 2 hides every opt-2 cache of layer 1',
    );
    assert.equal(l3.lateCaches.files, l3.addedFiles, 'every cache of layer 3 came after its source');
    assert.equal(
      l3.lateCaches.apparentBytes,
      l3.added['bytecode-0'] + l3.added['bytecode-1'] + l3.added['bytecode-2'],
    );
    assert.equal(l1.lateCaches.files, 0);
    assert.ok(l4.hides.files > 1, 'the opaque directory hides the earlier email/mime');
    assert.equal(
      l4.added.source,
      fs.statSync(path.join(img!.rootfs, 'usr/lib/python3.13/email/mime/text.py')).size,
    );
    // os and abc are frozen by 3.13 (levels 0 and 1 left), plus one cache of 3.12.
    assert.equal(l1.neverRead.files, 5);
    assert.ok(r.image!.note.includes('apparent'));
  });

  test('text output says the bytes are apparent and shows the layer table', (t) => {
    if (!toolsHere(t) || !have(t, interpreter('3.13') && interpreter('3.12'), 'CPython 3.13 and 3.12'))
      return;
    const r = runCli(['analyze', img!.layout]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /apparent bytes only/);
    assert.match(r.stdout, /Layers/);
    assert.match(r.stdout, /compileall/);
    const html = runCli(['analyze', img!.layout, '--format', 'html']);
    assert.equal(html.status, 0, html.stderr);
    assert.match(html.stdout, /apparent bytes only/);
    assert.match(html.stdout, /compileall json/);
    // Disk usage is shown as the apparent bytes an image has, not as 0.
    assert.doesNotMatch(html.stdout, /class="big">0 B</);
  });

  test('check reads an image as it reads the unpacked root file system, naming the layer of each file', (t) => {
    if (!toolsHere(t) || !have(t, interpreter('3.13') && interpreter('3.12'), 'CPython 3.13 and 3.12'))
      return;
    const dir = checkJson([img!.rootfs]);
    for (const [what, target] of Object.entries(targets)) {
      const r = checkJson([target]);
      assert.deepEqual(
        r.findings.map((f) => [f.id, f.message, f.apparentBytes]),
        dir.findings.map((f) => [f.id, f.message, f.apparentBytes]),
        what,
      );
      assert.equal(r.image?.layers.length, 4, what);
      // The pyenv copy's caches name /root/.pyenv: every cache is a build-root path, each with its layer.
      const paths = r.findings.filter((f) => f.id === 'buildroot-path');
      assert.ok(paths.length > 0, what);
      for (const f of paths) assert.equal(f.layer, f.path.includes('/json/') ? 3 : 1, `${what}: ${f.path}`);
      assert.ok(
        r.findings.some((f) => f.id === 'foreign-tag' && f.path.endsWith('utils.cpython-312.pyc')),
        what,
      );
    }
    // The installed path is the one inside the image, not where it was unpacked.
    assert.match(
      dir.findings.find((f) => f.id === 'buildroot-path')!.message,
      /installed path is \/usr\/lib\/python3\.13\//,
    );
  });

  test('bad input: one line, exit 2', (t) => {
    if (!toolsHere(t) || !have(t, interpreter('3.13') && interpreter('3.12'), 'CPython 3.13 and 3.12'))
      return;
    const truncated = path.join(work, 'truncated.tar');
    const whole = fs.readFileSync(targets['docker save archive (skopeo docker-archive:)']!);
    fs.writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    expectError(truncated, /truncated|ends inside/);
    const corrupt = path.join(work, 'corrupt');
    fs.cpSync(img!.layout, corrupt, { recursive: true });
    const biggest = fs
      .readdirSync(path.join(corrupt, 'blobs', 'sha256'))
      .map((f) => path.join(corrupt, 'blobs', 'sha256', f))
      .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
    const bytes = fs.readFileSync(biggest);
    for (let k = 1000; k < 1100; k++) bytes[k] = bytes[k]! ^ 0x55;
    fs.writeFileSync(biggest, bytes);
    expectError(corrupt, /layer 1/);
  });
});

function expectError(target: string, message: RegExp, extra: string[] = []): void {
  const r = runCli(['analyze', target, ...extra]);
  assert.equal(r.status, 2, `${target}: ${r.stdout}${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0]!, /^pyfloppy: error: /);
  assert.match(lines[0]!, message);
  assert.ok(lines.length <= 2 && lines.slice(1).every((l) => l.startsWith('pyfloppy: hint: ')), r.stderr);
}

describe('hand-made hostile or broken images', () => {
  let work = '';
  before(() => {
    work = tempDir('pyfloppy-image-hand-');
  });
  after(() => removeTree(work));
  const OS = { name: 'usr/lib/python3.13/os.py', content: 'import sys\n' };

  const cases: Array<[string, () => Promise<Buffer[]>, RegExp, { mediaType?: string }?]> = [
    [
      'a member with ..',
      async () => [await tarOf([OS, { name: 'usr/../../etc/passwd', content: 'x' }])],
      /leaves the image/,
    ],
    [
      'an absolute member',
      async () => [await tarOf([OS, { name: '/etc/passwd', content: 'x' }])],
      /leaves the image/,
    ],
    [
      'a hard link out of the image',
      async () => [await tarOf([OS, { name: 'usr/x', type: 'link', linkname: '../../etc/passwd' }])],
      /leaves the image/,
    ],
    [
      'a hard link to nothing',
      async () => [await tarOf([OS, { name: 'usr/x', type: 'link', linkname: 'etc/shadow' }])],
      /no such file in the image/,
    ],
    [
      'an unknown media type',
      async () => [await tarOf([OS])],
      /unknown layer media type/,
      { mediaType: 'application/vnd.example.layer.v1.squashfs' },
    ],
    [
      'a layer that is not a tar',
      () => Promise.resolve([Buffer.from('not a tar at all, just text\n'.repeat(40))]),
      /layer 1/,
    ],
  ];
  for (const [what, layers, message, opts] of cases) {
    test(what, async () => {
      const dir = handLayout(fs.mkdtempSync(path.join(work, 'l-')), await layers(), opts ?? {});
      expectError(dir, message);
    });
  }

  test('a platform not in the index, and several without --platform', async () => {
    const dir = handLayout(fs.mkdtempSync(path.join(work, 'p-')), [await tarOf([OS])], {
      platforms: ['linux/amd64', 'linux/arm64'],
    });
    expectError(dir, /several platforms: linux\/amd64, linux\/arm64/);
    expectError(dir, /platform linux\/s390x is not in/, ['--platform', 'linux/s390x']);
    const r = analyzeJson([dir, '--platform', 'linux/arm64']);
    assert.equal(r.totals.source.files, 1);
  });

  test('an empty file and a file that is not an archive', () => {
    const empty = path.join(work, 'empty.tar');
    fs.writeFileSync(empty, '');
    expectError(empty, /ends inside|not a tar/);
    const text = path.join(work, 'text.tar');
    fs.writeFileSync(text, 'hello\n'.repeat(200));
    expectError(text, /not a tar archive/);
  });
});
