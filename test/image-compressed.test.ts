/**
 * A compressed outer image archive (`docker save | gzip`, `docker save | zstd`, the same of an OCI archive
 * and of a Docker 25+ archive, whose tar starts with `./`) reads as the uncompressed archive does: the same totals, identity, modules, layer table and check
 * findings; layers stored out of the manifest's order too; a truncated one is one line and exit 2.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { CheckReport } from '../src/check/check.js';
import { CompressedTarStore } from '../src/image/compressed.js';
import type { AnalyzeReport } from '../src/report/analyze-report.js';
import { runCli } from './helpers/cli.js';
import {
  buildImage,
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

const TOOLS = [...IMAGE_TOOLS, 'gzip', 'zstd'];

function cli(args: string[], status: number): string {
  const r = runCli(args);
  assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** What analyze --json says of an image's contents (not of the file: its path and compression aside). */
function analyzed(target: string): unknown {
  const r = JSON.parse(cli(['analyze', '--json', target], 0)) as AnalyzeReport;
  return {
    totals: r.totals,
    bytecode: r.bytecode,
    modules: r.modules,
    distributions: r.distributions,
    layers: r.image?.layers,
    platform: r.image?.platform,
    format: r.image?.format,
    strategies: r.strategies.map((s) => [s.id, s.saved]),
  };
}

function findings(target: string): unknown {
  const r = JSON.parse(cli(['check', '--json', target], 1)) as CheckReport;
  return r.findings.map((f) => [f.id, f.path, f.layer, f.message, f.apparentBytes]);
}

/** `gzip -c` / `zstd -c` of a file, beside it. */
function compress(file: string, tool: 'gzip' | 'zstd'): string {
  const out = `${file}.${tool === 'gzip' ? 'gz' : 'zst'}`;
  fs.writeFileSync(out, execFileSync(tool, ['-c', file], { maxBuffer: 1 << 30 }));
  return out;
}

/** The docker archive re-tarred with manifest.json first and its layers in reverse order. */
function reordered(docker: string, work: string): string {
  const stage = path.join(work, 'reordered');
  fs.mkdirSync(stage);
  execFileSync('tar', ['-xf', docker, '-C', stage]);
  const list = JSON.parse(fs.readFileSync(path.join(stage, 'manifest.json'), 'utf8')) as Array<{
    Config: string;
    Layers: string[];
  }>;
  const layers = [...list[0]!.Layers].reverse();
  const rest = fs.readdirSync(stage).filter((n) => n !== 'manifest.json' && !layers.includes(n));
  const file = path.join(work, 'reordered.tar');
  execFileSync('tar', ['-cf', file, '-C', stage, 'manifest.json', ...layers, ...rest]);
  return file;
}

/** Decompressions to index a compressed archive and read its layers in the manifest's order. */
async function passesToRead(file: string): Promise<number> {
  const store = await CompressedTarStore.open(file, fs.readFileSync(file).subarray(0, 8));
  assert.equal(store.passes, 1, 'indexing is one pass');
  const list = JSON.parse(store.read('manifest.json').toString('utf8')) as Array<{ Layers: string[] }>;
  for (const layer of list[0]!.Layers) for await (const _ of store.stream(layer).stream);
  return store.passes;
}

function expectOneLine(file: string, message: RegExp): void {
  const r = runCli(['analyze', file]);
  assert.equal(r.status, 2, `${file}: ${r.stdout}${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0]!, /^pyfloppy: error: /);
  assert.match(lines[0]!, message);
  assert.ok(lines.length <= 2 && lines.slice(1).every((l) => l.startsWith('pyfloppy: hint: ')), r.stderr);
}

function toolsHere(t: TestContext): boolean {
  for (const tool of TOOLS) if (!have(t, haveTool(tool), `${tool} (Debian package ${tool})`)) return false;
  return have(t, interpreter('3.13') && interpreter('3.12'), 'CPython 3.13 and 3.12');
}

describe('a compressed docker save or OCI archive', () => {
  let work = '';
  let docker = '';
  let oci = '';
  let docker25 = '';

  before(() => {
    const py = interpreter('3.13');
    const py12 = interpreter('3.12');
    if (!TOOLS.every(haveTool) || py === undefined || py12 === undefined) return;
    work = tempDir('pyfloppy-image-gz-');
    const other = path.join(stdlibOf(py12), 'email', '__pycache__', 'utils.cpython-312.pyc');
    const img = buildImage(work, stdlibOf(py), other);
    docker = toDockerArchive(img, path.join(work, 'docker.tar'));
    oci = toOciArchive(img, path.join(work, 'oci.tar'));
    docker25 = toDocker25Archive(img, work, path.join(work, 'docker25.tar'));
  });
  after(() => {
    if (work !== '') removeTree(work);
  });

  test('gzip and zstd copies read as the uncompressed archive: analyze and check', (t) => {
    if (!toolsHere(t)) return;
    for (const plain of [docker, oci, docker25]) {
      const want = analyzed(plain);
      const wantFindings = findings(plain);
      assert.ok((want as { layers: unknown[] }).layers.length === 4, plain);
      for (const tool of ['gzip', 'zstd'] as const) {
        const file = compress(plain, tool);
        assert.deepEqual(analyzed(file), want, file);
        assert.deepEqual(findings(file), wantFindings, file);
      }
    }
  });

  test('layers stored out of the manifest order: one pass each, the same result', async (t) => {
    if (!toolsHere(t)) return;
    const file = compress(reordered(docker, work), 'gzip');
    assert.deepEqual(analyzed(file), analyzed(docker));
    assert.equal(await passesToRead(file), 1 + 4, 'each layer stored before the one read last starts a pass');
    assert.equal(await passesToRead(compress(docker, 'zstd')), 2, 'in archive order: the index, then one');
  });

  test('a truncated or corrupt compressed archive: one line, exit 2', (t) => {
    if (!toolsHere(t)) return;
    for (const tool of ['gzip', 'zstd'] as const) {
      const whole = fs.readFileSync(compress(docker, tool));
      const cut = path.join(work, `truncated.tar.${tool}`);
      fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
      expectOneLine(cut, /truncated or corrupt/);
      const flipped = path.join(work, `corrupt.tar.${tool}`);
      const bytes = Buffer.from(whole);
      for (let k = bytes.length >> 1; k < (bytes.length >> 1) + 64; k++) bytes[k] = bytes[k]! ^ 0x55;
      fs.writeFileSync(flipped, bytes);
      // Why: zlib checks gzip's CRC; fzstd skips zstd's checksum, so the garbage is caught further on (a
      // document that is not JSON, a tar header, a layer's digest) and the message varies.
      expectOneLine(flipped, tool === 'gzip' ? /gzip compressed archive is truncated or corrupt/ : /./);
    }
  });
});

describe('a hand-made compressed archive', () => {
  test('a document not kept while indexing (not starting as JSON does) is named, exit 2', async () => {
    const work = tempDir('pyfloppy-image-gz-hand-');
    try {
      const file = path.join(work, 'odd.tar.gz');
      const manifest = ` ${JSON.stringify([{ Config: 'c.json', Layers: [] }])}`;
      fs.writeFileSync(file, zlib.gzipSync(await tarOf([{ name: 'manifest.json', content: manifest }])));
      expectOneLine(file, /manifest\.json \(\d+ bytes\) is not a JSON document of at most 4 MiB/);
    } finally {
      removeTree(work);
    }
  });
});
