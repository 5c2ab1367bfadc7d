/**
 * The split's file lists through the real rpmbuild: packages built from a spec with one `%files -n X -f
 * X.files` per section, read back with rpm, every file, %dir and %ghost in the package intended.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SplitPolicy, type SplitReport, split } from '../src/split/split.js';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { compileAllLevels, cpython, interpreter, interpreters, stdlibOf } from './helpers/python.js';
import { copyTree, fastTempDir, removeTree, writeTree } from './helpers/tree.js';

const hasRpm =
  spawnSync('rpmbuild', ['--version']).status === 0 && spawnSync('rpm', ['--version']).status === 0;
const py = interpreters()
  .filter((i) => i.minor >= 9)
  .pop();
const py313 = interpreter('3.13');

/** Names rpm's %files parser needs escaped: white space, %, glob characters (with look-alikes), quotes. */
function trickyTree(root: string): void {
  writeTree(root, {
    'pkg/__init__.py': '"""Package."""\n',
    'pkg/core.py': 'def f():\n    """Doc."""\n    assert True\n',
    'pkg/tests/__init__.py': '',
    'pkg/tests/test_core.py': 'def test_f():\n    pass\n',
    'pkg/tests/data/in put.txt': 'x',
    'my mod.py': 'A = 1\n',
    'p%name.py': 'B = 2\n',
    'p%{name}.py': 'C = 3\n',
    'my data/a b.txt': 'x',
    'my data/100% done.txt': 'x',
    'g[1].txt': 'x',
    'g1.txt': 'x',
    'st*r.txt': 'x',
    'star.txt': 'x',
    'q?x.txt': 'x',
    'qax.txt': 'x',
    'br{a,b}.txt': 'x',
    'bra.txt': 'x',
    "q'uote.txt": 'x',
    'dq"x.txt': 'x',
    'bs\\x.txt': 'x',
    'sp [x] *.txt': 'x',
    'plain.txt': 'x',
  });
  fs.symlinkSync('plain.txt', path.join(root, 'link.txt'));
  fs.mkdirSync(path.join(root, 'empty dir'));
}

interface RpmFile {
  ghost: boolean;
  dir: boolean;
  digest: string;
}

/** Build the packages of a split with rpmbuild; every package's files as rpm reports them. */
function buildRpms(tree: string, report: SplitReport, work: string): Map<string, Map<string, RpmFile>> {
  const lists = path.join(work, 'lists');
  fs.mkdirSync(lists);
  const cli = runCli([
    'split',
    tree,
    '--policy',
    report.policy,
    '--prefix',
    report.prefix,
    '--name',
    report.name,
    '--output-dir',
    lists,
  ]);
  assert.equal(cli.status, 0, cli.stderr);
  const main = report.sections[0]!.name;
  const spec = [
    `Name: ${main}`,
    'Version: 1',
    'Release: 1',
    'Summary: pyfloppy split test',
    'License: MIT',
    'BuildArch: noarch',
    'AutoReqProv: no',
    '%global __os_install_post %{nil}',
    '%define _build_id_links none',
    // The stdlib has extension modules (ELF) in lib-dynload; the package is noarch only to build anywhere.
    '%define _binaries_in_noarch_packages_terminate_build 0',
    // Uncompressed payload: the test is about file lists, not compression time.
    '%define _binary_payload w.ufdio',
    `%global prefix ${report.prefix}`,
    '%description',
    'The main package.',
    ...report.sections
      .slice(1)
      .flatMap((s) => [
        `%package -n ${s.name}`,
        `Summary: ${s.name}`,
        `Requires: ${main}`,
        `%description -n ${s.name}`,
        `The ${s.name} sub-package.`,
      ]),
    '%install',
    'mkdir -p "%{buildroot}%{prefix}"',
    `cp -a '${tree}/.' "%{buildroot}%{prefix}/"`,
    ...report.sections.map((s) => `%files -n ${s.name} -f ${lists}/${s.name}.files`),
    '',
  ].join('\n');
  const specFile = path.join(work, `${main}.spec`);
  fs.writeFileSync(specFile, spec);
  const r = spawnSync('rpmbuild', ['-bb', '--define', `_topdir ${work}`, specFile], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `rpmbuild failed:\n${r.stderr.slice(-3000)}`);
  assert.doesNotMatch(r.stderr, /File listed twice/);

  const known = new Set(report.sections.flatMap((s) => [...s.files, ...s.dirs, ...s.ghosts]));
  const out = new Map<string, Map<string, RpmFile>>();
  for (const s of report.sections) {
    const pkg = path.join(work, 'RPMS', 'noarch', `${s.name}-1-1.noarch.rpm`);
    const ql = spawnSync('rpm', ['-qlp', pkg], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(ql.status, 0, ql.stderr);
    const listed = ql.stdout.split('\n').filter((l) => l !== '');
    // --dump: path size mtime digest mode owner group isconfig isdoc rdev symlink; a path may hold spaces, so
    // each line is matched against the longest known path it starts with.
    const dump = spawnSync('rpm', ['-qp', '--dump', pkg], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(dump.status, 0, dump.stderr);
    const flags = spawnSync('rpm', ['-qp', '--qf', '[%{FILEFLAGS:fflags}\n]', pkg], { encoding: 'utf8' });
    const fflags = flags.stdout.split('\n');
    const files = new Map<string, RpmFile>();
    dump.stdout
      .split('\n')
      .filter((l) => l !== '')
      .forEach((line, k) => {
        const p = listed[k]!;
        assert.ok(known.has(p), `${s.name} has ${p}, which the split does not name`);
        assert.ok(line.startsWith(`${p} `), `dump line ${k} of ${s.name} is not ${p}: ${line}`);
        const [, , digest, mode] = line.slice(p.length + 1).split(' ');
        files.set(p, { ghost: fflags[k]!.includes('g'), dir: mode!.startsWith('04'), digest: digest! });
      });
    assert.equal(files.size, listed.length);
    out.set(s.name, files);
  }
  return out;
}

/** Every path below `dir` (itself included), as installed under `prefix`: what the packages must cover. */
function walkInstalled(dir: string, prefix: string): string[] {
  const out = [prefix];
  for (const e of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) out.push(`${prefix}/${e}`);
  return out.sort();
}

/**
 * Every file, %dir and %ghost of the split in the intended package, as such, and nothing else; and every path
 * of the tree itself (read from the disk, not from the split) in exactly one package, not as a ghost.
 */
function assertLanded(
  report: SplitReport,
  rpms: Map<string, Map<string, RpmFile>>,
  tree: string,
  prefix: string,
): void {
  const owner = new Map<string, string>();
  for (const s of report.sections) {
    const got = rpms.get(s.name)!;
    const want = new Set([...s.files, ...s.dirs, ...s.ghosts]);
    assert.equal(
      got.size,
      want.size,
      `${s.name}: ${got.size} paths in the package, ${want.size} in the split`,
    );
    for (const p of s.dirs) {
      const f = got.get(p);
      assert.ok(f?.dir === true && !f.ghost, `${s.name}: %dir ${p}`);
    }
    for (const p of s.files) {
      const f = got.get(p);
      assert.ok(f !== undefined && !f.dir && !f.ghost, `${s.name}: file ${p}`);
    }
    for (const p of s.ghosts) {
      const f = got.get(p);
      assert.ok(f?.ghost === true, `${s.name}: %ghost ${p}`);
      assert.match(f.digest, /^0+$/, `a %ghost has no content: ${p}`);
    }
    for (const [p, f] of got) {
      if (f.ghost) continue;
      assert.equal(owner.get(p), undefined, `${p} in ${owner.get(p)} and ${s.name}`);
      owner.set(p, s.name);
    }
  }
  assert.deepEqual(
    [...owner.keys()].sort(),
    walkInstalled(tree, prefix),
    'every path of the tree in exactly one package, as rpm lists them',
  );
}

describe('split through rpmbuild', () => {
  describe('a small tree with names rpm must escape', () => {
    let root = '';
    let tree = '';
    before(() => {
      if (py === undefined || !hasRpm) return;
      root = fastTempDir('pyfloppy-split-rpm-');
      tree = path.join(root, 'tree');
      fs.mkdirSync(tree);
      trickyTree(tree);
      compileAllLevels(py, tree);
    });
    after(() => removeTree(root));

    for (const policy of ['bytecode', 'optimized', 'tests'] as SplitPolicy[]) {
      it(`${policy}: every file, %dir and %ghost lands in the intended package`, async (t) => {
        if (!have(t, hasRpm, "rpmbuild and rpm (Debian's rpm)")) return;
        if (!have(t, py, cpython('3.9 or later'))) return;
        const report = await split({
          path: tree,
          policy,
          prefix: '/opt/pyfloppy-test/site-packages',
          name: 'tricky',
        });
        assert.equal(report.check.ok, true);
        assert.deepEqual(report.problems, []);
        const work = path.join(root, policy);
        fs.mkdirSync(work);
        const rpms = buildRpms(tree, report, work);
        assertLanded(report, rpms, tree, '/opt/pyfloppy-test/site-packages');
        const main = rpms.get('tricky')!;
        const at = (rel: string): string => `/opt/pyfloppy-test/site-packages/${rel}`;
        for (const rel of [
          'p%{name}.py',
          'br{a,b}.txt',
          'st*r.txt',
          'sp [x] *.txt',
          'dq"x.txt',
          'bs\\x.txt',
          'link.txt',
        ]) {
          assert.ok(main.has(at(rel)), `main package has ${rel}`);
        }
        assert.ok(main.get(at('empty dir'))?.dir, 'the empty directory');
        if (policy === 'bytecode') {
          const tag = `cpython-3${py.minor}`;
          assert.equal(main.get(at(`__pycache__/p%{name}.${tag}.pyc`))?.ghost, true);
          assert.equal(
            rpms.get('tricky-bytecode-cache')!.get(at(`__pycache__/p%{name}.${tag}.pyc`))?.ghost,
            false,
          );
          assert.equal(
            rpms.get('tricky-bytecode-cache-opt-2')!.get(at(`__pycache__/my mod.${tag}.opt-2.pyc`))?.ghost,
            false,
          );
        }
        if (policy === 'tests') {
          assert.ok(rpms.get('tricky-tests')!.get(at('pkg/tests/data/in put.txt')));
          assert.ok(rpms.get('tricky-tests')!.get(at('pkg/tests'))?.dir);
        }
      });
    }
  });

  describe('the 3.13 stdlib (without test, idlelib, tkinter, turtledemo, site-packages)', () => {
    it('bytecode: main, the cache and the two optimized packages, each file where the split put it', async (t) => {
      if (!have(t, hasRpm, "rpmbuild and rpm (Debian's rpm)")) return;
      if (!have(t, py313, cpython('3.13'))) return;
      const root = fastTempDir('pyfloppy-split-stdlib-');
      try {
        const tree = path.join(root, 'python3.13');
        copyTree(stdlibOf(py313), tree, {
          exclude: ['test', 'idlelib', 'tkinter', 'turtledemo', 'site-packages'],
        });
        const report = await split({
          path: tree,
          policy: 'bytecode',
          prefix: '/usr/lib/python3.13',
          name: 'python3-libs',
        });
        assert.equal(report.check.ok, true, JSON.stringify(report.check.violations.slice(0, 5)));
        assert.deepEqual(
          report.sections.map((s) => s.name),
          [
            'python3-libs',
            'python3-libs-bytecode-cache',
            'python3-libs-bytecode-cache-opt-1',
            'python3-libs-bytecode-cache-opt-2',
          ],
        );
        const [main, l0, l1, l2] = report.sections;
        assert.ok(l0!.files.length > 500, `${l0!.files.length} level-0 caches`);
        assert.equal(main!.ghosts.length, l0!.files.length + l1!.files.length + l2!.files.length);
        const work = path.join(root, 'rpm');
        fs.mkdirSync(work);
        const rpms = buildRpms(tree, report, work);
        assertLanded(report, rpms, tree, '/usr/lib/python3.13');
        const osCache = '/usr/lib/python3.13/__pycache__/os.cpython-313.pyc';
        assert.equal(rpms.get('python3-libs')!.get(osCache)?.ghost, true);
        assert.equal(rpms.get('python3-libs-bytecode-cache')!.get(osCache)?.ghost, false);
        assert.ok(rpms.get('python3-libs')!.get('/usr/lib/python3.13/__pycache__')?.dir);
        assert.ok(rpms.get('python3-libs')!.get('/usr/lib/python3.13/os.py'));
      } finally {
        removeTree(root);
      }
    });
  });
});
