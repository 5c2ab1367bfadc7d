/**
 * Packages and bundles as analyze targets, each built with the real tool (CPython's zipfile for wheels and
 * bundles, tar, dpkg-deb, rpmbuild): analyze of each reads, kind by kind in apparent bytes, as analyze of
 * the same files on disk; a wheel's install caches equal py_compile's output; bad input (truncated or corrupt,
 * `..` or absolute members, links out of the package) is one error line, exit 2, nothing written.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { KIND_NAMES } from '../src/model/kinds.js';
import type { AnalyzeReport } from '../src/report/analyze-report.js';
import { runCli } from './helpers/cli.js';
import { haveTool } from './helpers/image.js';
import { have } from './helpers/need.js';
import { compileAllLevels, type Interpreter, interpreter, runPython } from './helpers/python.js';
import { removeTree, tempDir, writeTree } from './helpers/tree.js';

/** As test/image.test.ts checks it: the unpacked tree's saving less at most its directories' bytes. */
function assertSourceless(pkg: AnalyzeReport, dir: AnalyzeReport, what: string): void {
  const a = pkg.strategies.find((s) => s.id === 'sourceless')!.saved.apparentBytes;
  const b = dir.strategies.find((s) => s.id === 'sourceless')!.saved.apparentBytes;
  assert.ok(
    a > 0 && b - a >= 0 && b - a <= dir.totals.directory.apparentBytes,
    `${what}: sourceless ${a} vs ${b}`,
  );
}

function analyzeJson(args: string[]): AnalyzeReport {
  const r = runCli(['analyze', '--json', ...args]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as AnalyzeReport;
}

/** The same files, bytes and identity kind by kind (directories: counts only), no blocks in the archive. */
function assertSame(pkg: AnalyzeReport, dir: AnalyzeReport, what: string): void {
  for (const k of KIND_NAMES) {
    const a = pkg.totals[k];
    const b = dir.totals[k];
    assert.equal(a.files, b.files, `${what}: ${k} files`);
    if (k !== 'directory') assert.equal(a.apparentBytes, b.apparentBytes, `${what}: ${k} apparent bytes`);
    assert.equal(a.allocatedBytes, 0, `${what}: ${k}: an archive has no blocks`);
  }
  const { dedupable: da, ...ia } = pkg.bytecode;
  const { dedupable: db, ...ib } = dir.bytecode;
  assert.deepEqual(ia, ib, `${what}: bytecode identity`);
  assert.equal(da.apparentBytes, db.apparentBytes, `${what}: dedupable bytes`);
  assert.deepEqual(
    pkg.distributions.map((d) => [d.name, d.version, d.files]),
    dir.distributions.map((d) => [d.name, d.version, d.files]),
    `${what}: distributions`,
  );
  const byName = (r: AnalyzeReport): Array<[string, number, number]> =>
    r.modules.map((m): [string, number, number] => [m.name, m.files, m.kinds.source.apparentBytes]).sort();
  assert.deepEqual(byName(pkg), byName(dir), `${what}: modules`);
  // Left out: what the archive cannot estimate (named), and zip-stdlib, which on a tree without a stdlib
  // counts an empty archive's bytes on disk (-116) where an archive measures no zip at all (0).
  const left = [...(pkg.image?.notEstimated ?? []), 'zip-stdlib', 'sourceless'];
  if (dir.strategies.some((s) => s.id === 'sourceless' && s.saved.apparentBytes > 0))
    assertSourceless(pkg, dir, what);
  for (const s of pkg.strategies) {
    const d = dir.strategies.find((x) => x.id === s.id);
    if (d !== undefined && s.id !== 'no-python' && !left.includes(s.id))
      assert.equal(s.saved.apparentBytes, d.saved.apparentBytes, `${what}: ${s.id}`);
  }
  assert.ok(pkg.totals.source.files >= 4 && pkg.totals['bytecode-2'].files >= 4, what);
  assert.match(pkg.image!.note, /apparent bytes only/);
}

const SOURCE = (k: number): string =>
  `"""Module ${k}."""\nimport os\n\ndef f${k}(x):\n    """Doc ${k}."""\n    assert x, "${k}"\n    return os.sep * ${k}\n`;

/** A site-packages: a package (hard-linked twin module, a symlink), a distribution with its RECORD. */
function sitePackages(dir: string, py: Interpreter): void {
  const files: Record<string, string> = {};
  for (let k = 0; k < 6; k++) files[`demo/m${k}.py`] = SOURCE(k);
  files['demo/__init__.py'] = '';
  files['demo/data.txt'] = 'x'.repeat(1000);
  files['demo-1.0.dist-info/METADATA'] = 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n';
  files['demo-1.0.dist-info/WHEEL'] =
    'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n';
  files['demo-1.0.dist-info/RECORD'] =
    Object.keys(files)
      .map((f) => `${f},,\n`)
      .join('') + 'demo-1.0.dist-info/RECORD,,\n';
  writeTree(dir, files);
  compileAllLevels(py, dir);
}

function sh(cmd: string, args: string[], cwd?: string): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(cwd === undefined ? {} : { cwd }) });
}

/** A zip of a directory with CPython's zipfile; `rename` maps member names (a wheel's .data). */
const ZIP = String.raw`
import os, sys, zipfile
src, out, data = sys.argv[1], sys.argv[2], sys.argv[3]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for top, dirs, files in sorted(os.walk(src)):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(top, f)
            rel = os.path.relpath(p, src)
            if data and rel == 'extra.py':
                rel = data + '/purelib/extra.py'
            z.write(p, rel)
`;

function rpmSpec(root: string, payload: string): string {
  return [
    'Name: demo',
    'Version: 1.0',
    'Release: 1',
    'Summary: demo',
    'License: MIT',
    'BuildArch: noarch',
    'AutoReqProv: no',
    `%define _binary_payload ${payload}`,
    '%define __os_install_post %{nil}',
    '%define debug_package %{nil}',
    '%description',
    'demo',
    '%install',
    `cp -a ${root}/. %{buildroot}/`,
    '%files',
    '/usr/lib/python3.13',
    '',
  ].join('\n');
}

function buildRpm(work: string, root: string, payload: string, name: string): string {
  const top = path.join(work, `rpm-${name}`);
  fs.mkdirSync(top, { recursive: true });
  fs.writeFileSync(path.join(top, 'demo.spec'), rpmSpec(root, payload));
  sh('rpmbuild', ['--define', `_topdir ${top}`, '-bb', path.join(top, 'demo.spec')]);
  const out = path.join(work, `${name}.rpm`);
  fs.renameSync(path.join(top, 'RPMS', 'noarch', 'demo-1.0-1.noarch.rpm'), out);
  return out;
}

function buildDeb(work: string, root: string, z: string): string {
  const d = path.join(work, `deb-${z}`);
  fs.cpSync(root, d, { recursive: true, verbatimSymlinks: true });
  writeTree(d, {
    'DEBIAN/control':
      'Package: demo\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: demo\n',
  });
  const out = path.join(work, `demo-${z}.deb`);
  sh('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', d, out]);
  return out;
}

describe('packages built with zipfile, tar, dpkg-deb and rpmbuild', () => {
  let work = '';
  let py: Interpreter | undefined;
  let root = '';
  let site = '';
  before(() => {
    work = tempDir('pyfloppy-packages-');
    py = interpreter('3.13');
    if (py === undefined) return;
    root = path.join(work, 'root');
    site = path.join(root, 'usr/lib/python3.13/site-packages');
    sitePackages(site, py);
    fs.linkSync(path.join(site, 'demo/m0.py'), path.join(site, 'demo/twin.py'));
    fs.symlinkSync('m1.py', path.join(site, 'demo/alias.py'));
  });
  after(() => removeTree(work));

  const ready = (t: TestContext, ...tools: string[]): boolean => {
    if (!have(t, py, 'CPython 3.13 (pyenv)')) return false;
    for (const tool of tools) if (!have(t, haveTool(tool), `${tool}`)) return false;
    return true;
  };

  test('tars (plain, gzip, xz, zstd) read as the tree they were made from', (t) => {
    if (!ready(t, 'tar', 'xz', 'zstd')) return;
    const dir = analyzeJson([root]);
    for (const [name, flag] of [
      ['a.tar', '-cf'],
      ['a.tar.gz', '-czf'],
      ['a.tar.xz', '-cJf'],
      ['a.tar.zst', '--zstd'],
    ] as const) {
      const out = path.join(work, name);
      sh('tar', flag === '--zstd' ? ['-C', root, '--zstd', '-cf', out, '.'] : ['-C', root, flag, out, '.']);
      const r = analyzeJson([out]);
      assertSame(r, dir, name);
      assert.equal(r.package!.kind, 'tar', name);
      assert.equal(r.package!.archiveBytes, fs.statSync(out).size, name);
    }
    // The kind comes from the first bytes, not the name.
    const noName = path.join(work, 'payload.bin');
    fs.copyFileSync(path.join(work, 'a.tar.zst'), noName);
    assertSame(analyzeJson([noName]), dir, 'a zstd tar without its extension');
    // The text and HTML reports name the package and say the compressed sizes are estimates.
    const text = runCli(['analyze', path.join(work, 'a.tar.xz')]);
    assert.match(text.stdout, /Package .*a\.tar\.xz \(tar, xz payload\)/);
    assert.match(text.stdout, /Package size after each strategy[\s\S]*estimated, not recompressed/);
    const html = runCli(['analyze', path.join(work, 'a.tar.gz'), '--format', 'html']);
    assert.match(html.stdout, /Package [^<]*a\.tar\.gz \(tar, gzip\)/);
    assert.match(html.stdout, /package after \(estimate\)/);
    // check reads the package's caches as it reads the tree's: the same findings, in the same places.
    // (stale-record hashes files, whose contents a streamed package does not keep: not for packages.)
    const findings = (target: string): string[] => {
      const r = runCli(['check', '--json', '--ignore', 'stale-record', target]);
      assert.ok(r.status === 0 || r.status === 1, r.stderr);
      const rep = JSON.parse(r.stdout) as { findings: Array<{ id: string; path: string }> };
      return rep.findings.map((f) => `${f.id} ${f.path.replace(/^.*?(\/usr\/lib\/)/, '$1')}`).sort();
    };
    const want = findings(root);
    assert.ok(want.length > 0, 'the tree has findings (caches compiled at another prefix)');
    assert.deepEqual(findings(path.join(work, 'a.tar.xz')), want);
  });

  test('debs (xz, zstd, gzip) read as dpkg-deb -x unpacks them', (t) => {
    if (!ready(t, 'dpkg-deb')) return;
    for (const z of ['xz', 'zstd', 'gzip']) {
      const deb = buildDeb(work, root, z);
      const unpacked = path.join(work, `x-${z}`);
      sh('dpkg-deb', ['-x', deb, unpacked]);
      const r = analyzeJson([deb]);
      assertSame(r, analyzeJson([unpacked]), `deb ${z}`);
      assert.deepEqual([r.package!.kind, r.package!.compression], ['deb', z === 'gzip' ? 'gzip' : z]);
    }
  });

  test('RPMs (gzip, xz, zstd payloads) read as the tree they were built from', (t) => {
    if (!ready(t, 'rpmbuild')) return;
    const dir = analyzeJson([root]);
    for (const [payload, c] of [
      ['w9.gzdio', 'gzip'],
      ['w6.xzdio', 'xz'],
      ['w19.zstdio', 'zstd'],
    ] as const) {
      const rpm = buildRpm(work, root, payload, c);
      const r = analyzeJson([rpm]);
      assertSame(r, dir, `rpm ${c}`);
      assert.deepEqual([r.package!.kind, r.package!.compression], ['rpm', c]);
      const est = r.package!.compressed!;
      assert.equal(est.method, 'estimate');
      const drop = est.strategies.find((s) => s.id === 'drop-optimized')!;
      assert.ok(drop.compressedBytes < r.package!.archiveBytes && drop.compressedBytes > 0, `rpm ${c}`);
    }
  });

  test('a wheel (.data/purelib mapped) and zip bundles read as their files on disk', (t) => {
    if (!ready(t)) return;
    const flat = path.join(work, 'flat');
    sitePackages(flat, py!);
    writeTree(flat, { 'extra.py': 'E = 1\n' });
    const dir = analyzeJson([flat]);
    const whl = path.join(work, 'demo-1.0-py3-none-any.whl');
    runPython(py!, ZIP, [flat, whl, 'demo-1.0.data']);
    const w = analyzeJson([whl]);
    assertSame(w, dir, 'wheel');
    assert.equal(w.package!.kind, 'wheel');
    assert.equal(w.package!.install!.measured, false);
    assert.match(w.package!.install!.note, /--python/);
    // The same zip under another name is still a wheel (one top-level .dist-info/WHEEL).
    const renamed = path.join(work, 'wheel-as.zip');
    fs.copyFileSync(whl, renamed);
    assert.equal(analyzeJson([renamed]).package!.kind, 'wheel');
    // A Lambda bundle: modules at its top, or under python/.
    fs.rmSync(path.join(flat, 'demo-1.0.dist-info/WHEEL'));
    const bundle = path.join(work, 'lambda.zip');
    runPython(py!, ZIP, [flat, bundle, '']);
    assertSame(analyzeJson([bundle]), analyzeJson([flat]), 'bundle');
    const layer = path.join(work, 'layer');
    fs.cpSync(flat, path.join(layer, 'python'), { recursive: true });
    const layerZip = path.join(work, 'layer.zip');
    runPython(py!, ZIP, [layer, layerZip, '']);
    const l = analyzeJson([layerZip]);
    assertSame(l, analyzeJson([flat]), 'layer');
    assert.match(l.roots[0]!.path, /:\/python$/);
    const nested = path.join(work, 'nested');
    fs.cpSync(flat, path.join(nested, 'python/lib/python3.13/site-packages'), { recursive: true });
    const nestedZip = path.join(work, 'nested.zip');
    runPython(py!, ZIP, [nested, nestedZip, '']);
    const n = analyzeJson([nestedZip]);
    assertSame(n, analyzeJson([flat]), 'nested layer');
    assert.match(n.roots[0]!.path, /:\/python\/lib\/python3\.13\/site-packages$/);
  });

  test('a wheel with --python: its install caches are what py_compile writes, per level', (t) => {
    if (!ready(t)) return;
    const flat = path.join(work, 'wheel-src');
    writeTree(flat, {
      'w/__init__.py': '',
      'w/a.py': SOURCE(1),
      'w/b.py': SOURCE(2),
      'w/bad.py': 'def (:\n',
    });
    const whl = path.join(work, 'w-1.0-py3-none-any.whl');
    runPython(py!, ZIP, [flat, whl, '']);
    const r = analyzeJson([whl, '--python', py!.exe]);
    const install = r.package!.install!;
    assert.equal(install.measured, true);
    assert.equal(install.uncompilable, 1);
    const expected = JSON.parse(
      runPython(
        py!,
        String.raw`
import json, os, py_compile, sys, sysconfig, tempfile
src, purelib, out = sys.argv[1], sysconfig.get_paths()['purelib'], []
for level in (0, 1, 2):
    n = b = 0
    for rel in ('w/__init__.py', 'w/a.py', 'w/b.py'):
        c = tempfile.mktemp()
        py_compile.compile(os.path.join(src, rel), cfile=c, dfile=os.path.join(purelib, rel), optimize=level, doraise=True)
        n += 1; b += os.path.getsize(c); os.unlink(c)
    out.append([n, b])
print(json.dumps(out))`,
        [flat],
      ),
    ) as Array<[number, number]>;
    assert.deepEqual(
      install.levels.map((l) => [l.files, l.apparentBytes]),
      expected,
    );
    assert.ok(expected[2]![1] < expected[0]![1]);
  });
});

/** Bad input: one `pyfloppy: error:` line (and a hint), exit 2, the output file not written. */
function expectError(t: TestContext, target: string, message: RegExp): void {
  const out = path.join(path.dirname(target), 'report.json');
  const r = runCli(['analyze', target, '--json', '-o', out]);
  assert.equal(r.status, 2, `${target}: ${r.stdout}${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0]!, /^pyfloppy: error: /);
  assert.match(lines[0]!, message);
  assert.ok(lines.length <= 2 && lines.slice(1).every((l) => l.startsWith('pyfloppy: hint: ')), r.stderr);
  assert.equal(fs.existsSync(out), false, 'nothing written');
  t.diagnostic(lines[0]!);
}

/** Hostile archives made with CPython's tarfile and zipfile (GNU tar and zip tools would clean the names). */
const HOSTILE = String.raw`
import io, sys, tarfile, zipfile
out, kind, case = sys.argv[1], sys.argv[2], sys.argv[3]
ok = ('usr/lib/python3.13/os.py', b'import sys\n')
bad = {
  'dotdot': ('file', 'usr/../../etc/passwd', b'x'),
  'absolute': ('file', '/etc/passwd', b'x'),
  'symlink-out': ('symlink', 'usr/lib/python3.13/evil.py', '../../../../etc/passwd'),
  'symlink-abs': ('symlink', 'evil.py', '/etc/passwd'),
  'hardlink-out': ('link', 'usr/lib/python3.13/evil.py', '../etc/passwd'),
}[case]
if kind == 'tar':
    with tarfile.open(out, 'w:gz') as t:
        for name, data in [ok]:
            i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
        i = tarfile.TarInfo(bad[1])
        if bad[0] == 'file':
            i.size = len(bad[2]); t.addfile(i, io.BytesIO(bad[2]))
        else:
            i.type = tarfile.SYMTYPE if bad[0] == 'symlink' else tarfile.LNKTYPE; i.linkname = bad[2]; t.addfile(i)
else:
    with zipfile.ZipFile(out, 'w') as z:
        z.writestr('mod.py', 'X = 1\n')
        i = zipfile.ZipInfo(bad[1])
        if bad[0] == 'symlink':
            i.external_attr = 0o120777 << 16
            z.writestr(i, bad[2])
        else:
            z.writestr(i, bad[2])
`;

describe('bad packages', () => {
  let work = '';
  let py: Interpreter | undefined;
  before(() => {
    work = tempDir('pyfloppy-packages-bad-');
    py = interpreter('3.13');
  });
  after(() => removeTree(work));

  const cases: Array<[string, string, RegExp]> = [
    ['tar', 'dotdot', /leaves the package/],
    ['tar', 'absolute', /leaves the package/],
    ['tar', 'symlink-out', /leads out of the package/],
    ['tar', 'hardlink-out', /leaves the package/],
    ['zip', 'dotdot', /leaves the package/],
    ['zip', 'absolute', /leaves the package/],
    ['zip', 'symlink-out', /leads out of the package/],
    ['zip', 'symlink-abs', /leads out of the package/],
  ];
  for (const [kind, c, message] of cases)
    test(`a ${kind} with ${c}`, (t) => {
      if (!have(t, py, 'CPython 3.13 (pyenv)')) return;
      const file = path.join(work, c, `bad.${kind === 'tar' ? 'tar.gz' : 'zip'}`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      runPython(py, HOSTILE, [file, kind, c]);
      expectError(t, file, message);
    });

  test('--python: refused where it does not apply, a bad one refused before reading', (t) => {
    if (!have(t, py, 'CPython 3.13 (pyenv)')) return;
    const dir = path.join(work, 'python-option');
    writeTree(dir, { 'src/w/__init__.py': 'X = 1\n' });
    const whl = path.join(dir, 'w-1.0-py3-none-any.whl');
    runPython(py, ZIP, [path.join(dir, 'src'), whl, '']);
    const tgz = path.join(dir, 'w.tar.gz');
    sh('tar', ['-C', path.join(dir, 'src'), '-czf', tgz, '.']);
    for (const [args, message] of [
      [['analyze', whl, '--python', path.join(dir, 'nonexistent')], /interpreter not found/],
      [['analyze', tgz, '--python', py.exe], /--python does not apply/],
      [['check', whl, '--python', py.exe], /--python does not apply/],
    ] as const) {
      const r = runCli([...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /internal error|at /);
    }
  });

  test('truncated and corrupt packages of each kind', (t) => {
    if (!have(t, py, 'CPython 3.13 (pyenv)')) return;
    for (const tool of ['tar', 'xz', 'zstd', 'dpkg-deb']) if (!have(t, haveTool(tool), tool)) return;
    const root = path.join(work, 'root');
    // Incompressible bytes, so that a cut at 60% lands inside the payload of every kind.
    writeTree(root, {
      'usr/lib/python3.13/os.py': SOURCE(1),
      'usr/lib/python3.13/blob.bin': crypto.randomBytes(256 << 10),
    });
    const made: string[] = [];
    for (const [name, args] of [
      ['t.tar', ['-cf']],
      ['t.tar.gz', ['-czf']],
      ['t.tar.xz', ['-cJf']],
      ['t.tar.zst', ['--zstd', '-cf']],
    ] as const) {
      const out = path.join(work, name);
      sh('tar', ['-C', root, ...args, out, '.']);
      made.push(out);
    }
    made.push(buildDeb(work, root, 'xz'));
    const zip = path.join(work, 'z.zip');
    runPython(py, ZIP, [path.join(root, 'usr/lib/python3.13'), zip, '']);
    made.push(zip);
    if (haveTool('rpmbuild')) made.push(buildRpm(work, root, 'w6.xzdio', 'bad'));
    for (const file of made) {
      const bytes = fs.readFileSync(file);
      const dir = path.join(work, `cut-${path.basename(file)}`);
      fs.mkdirSync(dir);
      const cut = path.join(dir, path.basename(file));
      fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      expectError(t, cut, /truncated|ends|end of|not a readable|unexpected|corrupt|invalid/i);
      const dir2 = path.join(work, `flip-${path.basename(file)}`);
      fs.mkdirSync(dir2);
      const flip = path.join(dir2, path.basename(file));
      const copy = Buffer.from(bytes);
      const mid = Math.floor(copy.length / 2);
      for (let k = mid; k < mid + 64; k++) copy[k] = copy[k]! ^ 0x5a;
      fs.writeFileSync(flip, copy);
      const r = spawnSync(process.execPath, [runCliPath(), 'analyze', flip], { encoding: 'utf8' });
      assert.ok(r.status === 2 || r.status === 0, `${flip}: ${r.stderr}`);
      if (r.status === 2) assert.match(r.stderr, /^pyfloppy: error: /);
    }
  });
});

function runCliPath(): string {
  return path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../bin/pyfloppy.js');
}
