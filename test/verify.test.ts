/**
 * verify with the real interpreters: imports at each level, write attempts recorded and blocked (the tree
 * unchanged), sourceless trees, hung and crashing modules, baselines, stdlib copies run as their
 * installation runs them, and the command's exit statuses.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  type Regression,
  regressions,
  verify,
  type VerifyLevel,
  type VerifyReport,
} from '../src/verify/verify.js';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import {
  compileAllLevels,
  cpython,
  type Interpreter,
  interpreter,
  modernPython,
  runPython,
  stdlibOf,
} from './helpers/python.js';
import { copyTree, fastTempDir, removeTree, snapshot, writeTree } from './helpers/tree.js';

const cachePath = (py: Interpreter, dir: string, module: string, level: number): string =>
  path.join(dir, '__pycache__', `${module}.cpython-3${py.minor}${level === 0 ? '' : `.opt-${level}`}.pyc`);

describe('verify imports every module of a tree at each level', () => {
  it('records and blocks writes (a module writing beside itself, a missing opt-1 cache); the tree is unchanged', async (t) => {
    const py = modernPython(8);
    if (!have(t, py, cpython('3.8 or later'))) return;
    const root = fastTempDir();
    try {
      const tree = path.join(root, 'site-packages');
      writeTree(tree, {
        'good.py': '"""doc"""\nassert True\nX = 1\n',
        'pkg/__init__.py': '"""pkg"""\n',
        'pkg/sub.py': 'from . import __doc__ as D\n',
        'broken.py': 'raise ImportError("broken on purpose")\n',
        'writer.py':
          'import os\nwith open(os.path.join(os.path.dirname(__file__), "written.txt"), "w") as f:\n    f.write("x")\n',
        'nolevel1.py': '"""doc"""\nassert True\nY = 2\n',
        'not-a-module.py': 'raise SystemExit("never imported: not an identifier")\n',
        'data/x.py': 'raise SystemExit("never imported: not a package")\n',
        '__main__.py': 'raise SystemExit("never imported")\n',
      });
      compileAllLevels(py, tree);
      fs.unlinkSync(cachePath(py, tree, 'nolevel1', 1));
      const before = snapshot(tree);

      const report = await verify({ path: tree, python: py.exe });
      assert.equal(report.schema, 'pyfloppy.verify/1');
      assert.equal(report.generator.name, 'pyfloppy');
      assert.equal(report.mode, 'path');
      assert.equal(report.prefix, null);
      assert.equal(report.path, tree);
      assert.match(report.python.version, new RegExp(`^3\\.${py.minor}\\.`));
      assert.deepEqual(report.excluded, ['__main__']);
      assert.deepEqual(
        report.levels.map((l) => l.level),
        [0, 1, 2],
      );
      assert.ok(report.levels.length > 0, 'levels were run');
      for (const l of report.levels) {
        assert.equal(l.modules, 6, `level ${l.level}`);
        assert.deepEqual(l.okModules, ['good', 'nolevel1', 'pkg', 'pkg.sub']);
        assert.equal(l.ok, 4);
        assert.equal(l.withSource, 4);
        assert.deepEqual(
          l.failed.map((f) => [f.module, f.type]),
          [
            ['broken', 'ImportError'],
            ['writer', 'PermissionError'],
          ],
        );
        assert.equal(l.failed[0]!.message, 'broken on purpose');
        assert.equal(l.workers, 1);
        // The module's own write, at every level; cache writes only where a cache is missing (level 1).
        const writes = l.writes.map((w) => [w.module, w.event, path.relative(tree, w.path)]);
        const cacheWrites = l.level === 1 ? writes.filter((w) => w[2]!.startsWith('__pycache__/')) : [];
        assert.deepEqual(writes, [...cacheWrites, ['writer', 'open', 'written.txt']]);
        if (l.level === 1) {
          assert.equal(cacheWrites.length, 1);
          assert.equal(cacheWrites[0]![0], 'nolevel1');
          assert.equal(cacheWrites[0]![1], 'open');
          assert.ok(
            cacheWrites[0]![2]!.startsWith(`__pycache__/nolevel1.cpython-3${py.minor}.opt-1.pyc`),
            cacheWrites[0]![2],
          );
        }
      }
      // Blocked: nothing was written, nothing changed.
      assert.equal(fs.existsSync(path.join(tree, 'written.txt')), false);
      assert.equal(fs.existsSync(cachePath(py, tree, 'nolevel1', 1)), false);
      assert.deepEqual(snapshot(tree), before);
    } finally {
      removeTree(root);
    }
  });

  it('a sourceless tree (legacy .pyc, no .py) imports at every level with no source and no write', async (t) => {
    const py = modernPython(8);
    if (!have(t, py, cpython('3.8 or later'))) return;
    const root = fastTempDir();
    try {
      const tree = path.join(root, 'lib');
      writeTree(tree, { 'mod.py': 'X = 1\n', 'pkg/__init__.py': 'from mod import X\n' });
      runPython(
        py,
        'import py_compile, sys, os\nfor p in sys.argv[1:]:\n    py_compile.compile(p, cfile=p + "c", doraise=True)\n    os.unlink(p)',
        [path.join(tree, 'mod.py'), path.join(tree, 'pkg', '__init__.py')],
      );
      const before = snapshot(tree);
      assert.deepEqual([...before.keys()].sort(), ['mod.pyc', 'pkg/__init__.pyc']);
      const report = await verify({ path: tree, python: py.exe });
      assert.ok(report.levels.length > 0, 'levels were run');
      for (const l of report.levels) {
        assert.deepEqual(l.okModules, ['mod', 'pkg']);
        assert.equal(l.withSource, 0);
        assert.deepEqual(l.failed, []);
        assert.deepEqual(l.writes, []);
      }
      assert.deepEqual(snapshot(tree), before);
    } finally {
      removeTree(root);
    }
  });

  it('a module that hangs or kills its interpreter fails, and a new worker imports the rest', async (t) => {
    const py = modernPython(8);
    if (!have(t, py, cpython('3.8 or later'))) return;
    const root = fastTempDir();
    try {
      writeTree(root, {
        'a_first.py': 'X = 1\n',
        'b_hang.py': 'import time\ntime.sleep(60)\n',
        'c_crash.py': 'import os\nos._exit(7)\n',
        'd_noisy.py':
          'import os, sys\nprint("noise")\nos.write(1, b"{\\"ev\\": \\"end\\"}\\n")\nsys.stderr.write("more")\n',
        'e_last.py': 'X = 2\n',
        'skipped/__init__.py': 'raise SystemExit("excluded")\n',
      });
      const started = Date.now();
      const report = await verify({
        path: root,
        python: py.exe,
        levels: [0],
        timeoutMs: 1500,
        exclude: ['skipped'],
      });
      assert.ok(Date.now() - started < 15_000);
      const l = report.levels[0]!;
      assert.deepEqual(report.excluded, ['skipped']);
      assert.deepEqual(l.okModules, ['a_first', 'd_noisy', 'e_last']);
      assert.deepEqual(
        l.failed.map((f) => [f.module, f.type]),
        [
          ['b_hang', 'timeout'],
          ['c_crash', 'crashed'],
        ],
      );
      assert.match(l.failed[0]!.message, /no answer within 1\.5 s/);
      assert.match(l.failed[1]!.message, /exit status 7/);
      assert.equal(l.workers, 3);
      assert.equal(l.modules, 5);
    } finally {
      removeTree(root);
    }
  });
});

describe('regressions against a baseline', () => {
  const level = (n: number, over: Partial<VerifyLevel> = {}): VerifyLevel => ({
    level: n,
    modules: 2,
    ok: 2,
    withSource: 2,
    failed: [],
    writes: [],
    okModules: ['a', 'b'],
    workers: 1,
    ...over,
  });
  const report = (levels: VerifyLevel[], excluded: string[] = []): VerifyReport => ({
    schema: 'pyfloppy.verify/1',
    generator: { name: 'pyfloppy', version: '0' },
    path: '/t',
    python: { executable: '/p', version: '3.13.0' },
    mode: 'path',
    prefix: null,
    entries: ['/t'],
    excluded,
    timeoutMs: 30_000,
    levels,
  });

  it('failed and missing modules; writes only at levels that had none (and only writeLevels)', () => {
    const w = { module: 'a', event: 'open', path: '/t/__pycache__/a.pyc' };
    const base = report([level(0), level(1, { writes: [w] }), level(2)]);
    const after = report([
      level(0, {
        okModules: ['a'],
        failed: [{ module: 'b', type: 'ImportError', message: 'gone' }],
        writes: [w],
      }),
      level(1, { okModules: ['b'], writes: [w, w] }),
      level(2, { writes: [w] }),
    ]);
    const all: Regression[] = [
      { kind: 'failed', level: 0, module: 'b', type: 'ImportError', message: 'gone' },
      { kind: 'write', level: 0, ...w },
      { kind: 'missing', level: 1, module: 'a' },
      { kind: 'write', level: 2, ...w },
    ];
    assert.deepEqual(regressions(base, after), all);
    assert.deepEqual(
      regressions(base, after, { writeLevels: [0] }),
      all.filter((r) => r.kind !== 'write' || r.level === 0),
    );
    assert.deepEqual(regressions(base, base), []);
    // Excluded now: not missing. A level the baseline lacks: not compared.
    assert.deepEqual(regressions(report([level(0)]), report([level(0, { okModules: ['b'] })], ['a'])), []);
    assert.deepEqual(regressions(report([level(0)]), report([level(1, { okModules: [] })])), []);
  });

  it('a module removed after the baseline is exactly the regression; the command exits 1, else 0', async (t) => {
    const py = modernPython(8);
    if (!have(t, py, cpython('3.8 or later'))) return;
    const root = fastTempDir();
    try {
      const tree = path.join(root, 'tree');
      writeTree(tree, { 'a.py': 'import b\n', 'b.py': 'X = 1\n', 'c.py': 'Y = 1\n' });
      compileAllLevels(py, tree);
      const baseFile = path.join(root, 'base.json');
      const base = runCli(['verify', tree, '--python', py.exe, '--output', baseFile]);
      assert.equal(base.status, 0, base.stdout + base.stderr);
      assert.match(base.stdout, /result: 0 failed imports, 0 write attempts/);
      assert.match(base.stderr, /wrote .*base\.json/);
      const baseline = JSON.parse(fs.readFileSync(baseFile, 'utf8')) as VerifyReport;
      assert.equal(baseline.schema, 'pyfloppy.verify/1');

      const same = runCli(['verify', tree, '--python', py.exe, '--baseline', baseFile]);
      assert.equal(same.status, 0, same.stdout + same.stderr);
      assert.match(same.stdout, /0 regressions/);

      fs.unlinkSync(path.join(tree, 'c.py'));
      for (const l of [0, 1, 2]) fs.unlinkSync(cachePath(py, tree, 'c', l));
      const after = await verify({ path: tree, python: py.exe });
      assert.deepEqual(regressions(baseline, after), [
        { kind: 'missing', level: 0, module: 'c' },
        { kind: 'missing', level: 1, module: 'c' },
        { kind: 'missing', level: 2, module: 'c' },
      ]);
      const cli = runCli(['verify', tree, '--python', py.exe, '--baseline', baseFile, '--levels', '0']);
      assert.equal(cli.status, 1, cli.stdout + cli.stderr);
      assert.match(cli.stdout, /level 0: c: imported in the baseline, now not found/);
      const json = runCli(['verify', tree, '--python', py.exe, '--baseline', baseFile, '--json']);
      assert.equal(json.status, 1);
      const printed = JSON.parse(json.stdout) as VerifyReport;
      assert.equal(printed.baseline?.regressions.length, 3);

      // A module that breaks is a failed regression.
      fs.writeFileSync(path.join(tree, 'b.py'), 'raise ValueError("no")\n');
      const broken = await verify({ path: tree, python: py.exe, levels: [2] });
      assert.deepEqual(
        regressions(baseline, broken).filter((r) => r.kind === 'failed'),
        [
          { kind: 'failed', level: 2, module: 'a', type: 'ValueError', message: 'no' },
          { kind: 'failed', level: 2, module: 'b', type: 'ValueError', message: 'no' },
        ],
      );
    } finally {
      removeTree(root);
    }
  });
});

/** A copy of an interpreter's stdlib with its caches, timestamps kept, without the big test-only parts. */
function copyStdlib(py: Interpreter, root: string): string {
  const std = stdlibOf(py);
  const lib = path.join(root, 'lib');
  fs.mkdirSync(lib);
  const dest = path.join(lib, path.basename(std));
  const exclude = ['test', 'idlelib', 'tkinter', 'turtledemo', 'lib2to3', 'site-packages'];
  exclude.push(...fs.readdirSync(std).filter((n) => n.startsWith('config-')));
  copyTree(std, dest, { exclude });
  return dest;
}

describe('verify on a stdlib copy, run as its installation runs it', () => {
  for (const v of ['3.13', '3.8']) {
    it(`Python ${v}: levels 0, 1, 2 import cleanly with no write attempt; a removed cache is caught`, async (t) => {
      const py = interpreter(v);
      if (!have(t, py, cpython(v))) return;
      const root = fastTempDir();
      try {
        const lib = copyStdlib(py, root);
        const report = await verify({ path: lib, python: py.exe });
        assert.equal(report.mode, 'stdlib');
        assert.equal(report.prefix, root);
        assert.ok(report.entries.includes(lib), report.entries.join(', '));
        assert.ok(report.entries.includes(path.join(lib, 'lib-dynload')), report.entries.join(', '));
        assert.ok(report.excluded.includes('antigravity'));
        assert.ok(report.levels.length > 0, 'levels were run');
        for (const l of report.levels) {
          assert.deepEqual(l.writes, [], `level ${l.level}`);
          assert.ok(l.ok > 300, `level ${l.level}: ${l.ok} ok`);
          assert.ok(l.withSource > 300, `level ${l.level}: ${l.withSource} with source`);
          assert.ok(l.okModules.includes('json.decoder') && l.okModules.includes('_json'));
        }

        // A module the interpreter imports at its start (site, on 3.8-3.10) or later (bisect): the missing
        // opt-1 cache is tried at level 1, blocked, and the attempt names the module.
        const module = py.minor >= 11 ? 'bisect' : 'site';
        const missing = cachePath(py, lib, module, 1);
        fs.unlinkSync(missing);
        const again = await verify({ path: lib, python: py.exe, levels: [1] });
        const writes = again.levels[0]!.writes;
        assert.ok(
          writes.length >= 1 && writes.every((w) => w.path.startsWith(`${missing}.`)),
          JSON.stringify(writes),
        );
        if (module === 'site') assert.equal(writes[0]!.module, 'site');
        assert.equal(fs.existsSync(missing), false);
      } finally {
        removeTree(root);
      }
    });
  }
});

describe('pyfloppy verify (CLI)', () => {
  it('usage and environment errors exit 2 with a one-line message', (t) => {
    const py = modernPython(8);
    if (!have(t, py, cpython('3.8 or later'))) return;
    const root = fastTempDir();
    try {
      writeTree(root, { 'file.txt': 'x', 'lib/python3.1/os.py': '' });
      const firstLine = (s: string): string => s.split('\n')[0]!;
      const cases: Array<[string[], RegExp]> = [
        [['verify', path.join(root, 'nope'), '--python', py.exe], /^pyfloppy: error: no such directory: /],
        [['verify', path.join(root, 'file.txt'), '--python', py.exe], /^pyfloppy: error: not a directory: /],
        [['verify', root], /^pyfloppy: error: required option '--python <exe>' not specified/],
        [
          ['verify', root, '--python', path.join(root, 'file.txt')],
          /^pyfloppy: error: (cannot run|not a working)/,
        ],
        [
          ['verify', root, '--python', path.join(root, 'no-python')],
          /^pyfloppy: error: interpreter not found/,
        ],
        [
          ['verify', root, '--python', py.exe, '--levels', '0,3'],
          /^pyfloppy: error: option .*--levels.* levels are 0, 1 and 2/,
        ],
        [['verify', root, '--python', py.exe, '--exclude', 'a-b'], /^pyfloppy: error: bad --exclude "a-b"/],
        [
          ['verify', root, '--python', py.exe, '--baseline', path.join(root, 'file.txt')],
          /^pyfloppy: error: .* is not a pyfloppy\.verify\/1 report/,
        ],
        [
          ['verify', path.join(root, 'lib', 'python3.1'), '--python', py.exe],
          /^pyfloppy: error: .* is the library of Python 3\.1, the interpreter is 3\./,
        ],
      ];
      for (const [args, want] of cases) {
        const r = runCli(args);
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(firstLine(r.stderr), want, args.join(' '));
        assert.equal(r.stdout, '');
      }
      // A directory named like the interpreter's library that is not one: the interpreter cannot start on it.
      const fake = path.join(root, 'fake', 'lib', `python3.${py.minor}`);
      writeTree(fake, { 'os.py': '' });
      const r = runCli(['verify', fake, '--python', py.exe]);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(firstLine(r.stderr), /the interpreter did not load its library from /);
    } finally {
      removeTree(root);
    }
  });

  it('write attempts without a baseline exit 1, listed per level', (t) => {
    const py = modernPython(8);
    if (!have(t, py, cpython('3.8 or later'))) return;
    const root = fastTempDir();
    try {
      writeTree(root, { 'm.py': 'X = 1\n' }); // no cache at all: every level tries to write one
      const r = runCli(['verify', root, '--python', py.exe, '--levels', '0,2']);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      // modules, ok, failed, import writes, module writes, lines shown
      assert.match(r.stdout, /\| +0 \| python +\| +1 \| +1 \| +0 \| +1 \| +0 \| +1\/1 \|/);
      assert.match(r.stdout, /level 2: import write attempts \(blocked\):\n {2}m: os\.mkdir .*__pycache__/);
      assert.equal(fs.existsSync(path.join(root, '__pycache__')), false);
    } finally {
      removeTree(root);
    }
  });
});
