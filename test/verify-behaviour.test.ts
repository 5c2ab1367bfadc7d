/**
 * verify sees behaviour, not only imports: source lines a traceback would show, __file__ against
 * co_filename, inspect.getsource, importlib.resources, unittest discovery of test packages, where a write
 * comes from; and CPython's own regression tests (`--regrtest`) name a regression every import survives.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { regressions, verify, type VerifyLevel } from '../src/verify/verify.js';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { digest } from './helpers/hostile.js';
import {
  cpython,
  compileAllLevels,
  interpreter,
  modernPython,
  runPython,
  stdlibOf,
} from './helpers/python.js';
import { copyTree, fastTempDir, removeTree, writeTree } from './helpers/tree.js';

/** Packages left out of the import phase where regrtest is what a test is about (importing them is slow). */
const SKIP = [
  'test',
  'idlelib',
  'tkinter',
  'turtledemo',
  'pip',
  'ensurepip',
  'lib2to3',
  'pydoc_data',
].flatMap((m) => ['--exclude', m]);

const TEST_CASE =
  'import unittest\nclass T(unittest.TestCase):\n    def test_a(self): pass\n    def test_b(self): pass\n';

const FILES = {
  'pkg/__init__.py': '"""pkg"""\n',
  'pkg/data.txt': 'some data\n',
  'pkg/mod.py': 'def f():\n    return 1\n\nX = f()\n',
  'pkg/tests/__init__.py': '',
  'pkg/tests/test_mod.py': TEST_CASE,
  // Imports a fixture from a directory it puts on sys.path itself (as CPython's test_lib2to3 does).
  'fix.py':
    'import os, sys\nsys.path.insert(0, os.path.join(os.path.dirname(__file__), "fixtures"))\nimport helper_fixture\n',
  'fixtures/helper_fixture.py': 'Y = 2\n',
  'nocache.py': 'def g():\n    return 2\n',
};

function level0(levels: VerifyLevel[]): VerifyLevel {
  const l = levels.find((x) => x.level === 0);
  assert.ok(l !== undefined, 'level 0 was run');
  return l;
}

describe('verify checks what users of each module rely on', () => {
  it('counts lines, __file__, getsource, resources and tests; a sourceless copy regresses on each', async (t) => {
    const py = modernPython(9);
    if (!have(t, py, cpython('3.9 or later (importlib.resources.files)'))) return;
    const root = fastTempDir();
    try {
      const tree = path.join(root, 'site');
      writeTree(tree, FILES);
      compileAllLevels(py, tree);
      fs.rmSync(path.join(tree, 'fixtures', '__pycache__'), { recursive: true });
      fs.rmSync(path.join(tree, '__pycache__', `nocache.cpython-3${py.minor}.pyc`));
      const before = await verify({ path: tree, python: py.exe, levels: [0] });
      const b = level0(before.levels);
      assert.deepEqual(b.okModules, ['fix', 'nocache', 'pkg', 'pkg.mod', 'pkg.tests', 'pkg.tests.test_mod']);
      assert.deepEqual(b.checks?.lines, { checked: 5, failed: [] });
      assert.deepEqual(b.checks?.getsource, { checked: 3, failed: [] }, 'f, g and T.test_a');
      assert.deepEqual(b.checks?.resources, { checked: 1, failed: [] });
      assert.deepEqual(b.tests, [{ package: 'pkg.tests', count: 2, errors: 0, error: null }]);
      const by = (kind: string): string[] =>
        b.writes.filter((w) => w.by === kind).map((w) => `${w.event} ${path.relative(tree, w.path)}`);
      assert.equal(by('import').length, 1, by('import').join());
      assert.match(
        by('import')[0]!,
        new RegExp(`^open __pycache__/nocache\\.cpython-3${py.minor}\\.pyc\\.\\d+$`),
      );
      assert.deepEqual(by('module'), ['os.mkdir fixtures/__pycache__']);
      assert.ok(!fs.existsSync(path.join(tree, 'fixtures', '__pycache__')), 'the write was blocked');

      // The same tree sourceless (legacy NAME.pyc beside where the source was, the source removed), its
      // bytecode naming another install (compiled for /elsewhere, as a build root leaves it): __file__ is
      // then neither co_filename nor the source's path beside it.
      const sourceless = path.join(root, 'sourceless');
      copyTree(tree, sourceless);
      runPython(
        py,
        'import compileall, sys; sys.exit(not compileall.compile_dir(sys.argv[1], ddir=sys.argv[2], legacy=True, quiet=1))',
        [sourceless, '/elsewhere/site'],
      );
      for (const f of Object.keys(FILES).filter((f) => f.endsWith('.py') && !f.startsWith('fixtures/')))
        fs.rmSync(path.join(sourceless, f));
      const after = await verify({ path: sourceless, python: py.exe, levels: [0] });
      const a = level0(after.levels);
      assert.deepEqual(a.okModules, b.okModules, 'every module still imports');
      assert.deepEqual(a.checks?.lines.failed, ['fix', 'nocache', 'pkg', 'pkg.mod', 'pkg.tests.test_mod']);
      assert.deepEqual(a.checks?.getsource.failed, ['nocache', 'pkg.mod', 'pkg.tests.test_mod']);
      // As CPython's regression tests found: "Start directory is not importable" (no __init__.py).
      assert.equal(a.tests?.length, 1);
      assert.deepEqual([a.tests[0]!.package, a.tests[0]!.count], ['pkg.tests', 0]);
      assert.match(a.tests[0]!.error ?? '', /^ImportError: Start directory is not importable/);
      const found = regressions(before, after);
      const kinds = found.map((r) =>
        r.kind === 'behaviour'
          ? `${r.check} ${r.module}`
          : r.kind === 'tests'
            ? `tests ${r.package}`
            : r.kind,
      );
      assert.ok(kinds.includes('lines pkg.mod') && kinds.includes('file pkg.mod'), kinds.join());
      assert.ok(kinds.includes('getsource pkg.mod') && kinds.includes('tests pkg.tests'), kinds.join());
      assert.ok(!kinds.includes('failed') && !kinds.includes('missing'), kinds.join());
      // The fixture's write is the module's own, in both runs: not a regression.
      assert.ok(!found.some((r) => r.kind === 'write' && r.path.includes('fixtures')), kinds.join());
    } finally {
      removeTree(root);
    }
  });
});

describe("verify --regrtest runs the interpreter's own tests", () => {
  it('names the test a planted regression fails (every import survives it), with the test package of the baseline', (t) => {
    const py = interpreter('3.13') ?? interpreter('3.12');
    if (!have(t, py, cpython('3.12 or 3.13'))) return;
    const root = fastTempDir();
    try {
      const original = path.join(root, 'a', 'lib', `python3.${py.minor}`);
      fs.mkdirSync(path.dirname(original), { recursive: true });
      copyTree(stdlibOf(py), original);
      // The copy under test: the same files (new names of the same inodes, replaced by rename only), no
      // test package (as after strip-tests), linecache.getline broken for line 2.
      const broken = path.join(root, 'b', 'lib', `python3.${py.minor}`);
      fs.mkdirSync(path.dirname(broken), { recursive: true });
      copyTree(original, broken, { links: true, exclude: ['test'] });
      const lc = path.join(broken, 'linecache.py');
      const text = fs.readFileSync(lc, 'utf8');
      const planted = text.replace(
        'def getline(filename, lineno, module_globals=None):\n',
        'def getline(filename, lineno, module_globals=None):\n    if lineno == 2:\n        return ""\n',
      );
      assert.notEqual(planted, text, 'the regression is planted');
      fs.rmSync(lc);
      fs.writeFileSync(lc, planted);

      const common = ['--python', py.exe, '--levels', '0', '--regrtest', 'test_linecache,test_py_compile'];
      const base = path.join(root, 'before.json');
      // Like with like: the baseline runs its test package from PYTHONPATH too, as the copy without one must.
      const b = runCli(['verify', original, ...common, ...SKIP, '--tests-from', original, '--output', base]);
      assert.equal(b.status, 0, b.stdout + b.stderr);
      const digestBefore = digest(broken);
      const r = runCli(['verify', broken, ...common, ...SKIP, '--baseline', base, '--json']);
      assert.equal(r.status, 1, r.stderr);
      const report = JSON.parse(r.stdout) as {
        levels: VerifyLevel[];
        baseline: { regressions: Array<Record<string, string>> };
      };
      const l = level0(report.levels);
      assert.equal(l.regrtest?.testsFrom, path.join(original, 'test'), "the baseline tree's test package");
      assert.deepEqual(l.regrtest?.tests, ['test_linecache', 'test_py_compile']);
      assert.deepEqual(
        l.regrtest?.failed.map((f) => [f.test, f.status]),
        [['test_linecache', 'failed']],
      );
      assert.match(l.regrtest?.failed[0]?.first ?? '', /^\w+\.test_\w+: AssertionError/);
      const kinds = new Set(report.baseline.regressions.map((g) => g.kind));
      assert.ok(kinds.has('regrtest'), [...kinds].join());
      assert.ok(
        !kinds.has('failed') && !kinds.has('missing'),
        'every import survives the planted regression',
      );
      assert.equal(digest(broken), digestBefore, 'verify --regrtest left the tree as it was');
    } finally {
      removeTree(root);
    }
  });
});

describe('apply --verify --regrtest', () => {
  it('rolls back a layout that a regression test fails on, and names the test', (t) => {
    const py = interpreter('3.13') ?? interpreter('3.12');
    if (!have(t, py, cpython('3.12 or 3.13'))) return;
    const root = fastTempDir();
    try {
      const tree = path.join(root, 'lib', `python3.${py.minor}`);
      fs.mkdirSync(path.dirname(tree), { recursive: true });
      copyTree(stdlibOf(py), tree);
      const plan = path.join(root, 'plan.json');
      const p = runCli(['plan', 'sourceless', tree, '-o', plan]);
      assert.equal(p.status, 0, p.stderr);
      const before = digest(tree);
      const r = runCli([
        ...['apply', plan, '--verify', '--python', py.exe, '--levels', '0'],
        // test_doctest's test_unicode reads a stdlib module's source, which sourceless does not keep.
        ...['--regrtest', 'test_doctest', '--json', ...SKIP],
      ]);
      assert.equal(r.status, 1, r.stderr);
      const report = JSON.parse(r.stdout) as {
        outcome: string;
        verify: { regressions: Array<{ kind: string; test?: string; first?: string }> };
      };
      assert.equal(report.outcome, 'rolled-back');
      const failing = report.verify.regressions.filter((g) => g.kind === 'regrtest');
      assert.deepEqual(
        failing.map((g) => g.test),
        ['test_doctest'],
      );
      assert.match(failing[0]!.first ?? '', /^\w+\.test_\w+: \w+/);
      assert.equal(digest(tree), before, 'the tree is as it was before apply');
    } finally {
      removeTree(root);
    }
  });
});

describe('apply --verify --regrtest --tests-from, on pysources with the runtime', () => {
  it('keeps a layout that no regression test fails on: tracebacks and getsource read __pysources__', (t) => {
    const py = interpreter('3.13');
    if (!have(t, py, cpython('3.13'))) return;
    const root = fastTempDir();
    try {
      // The judge's tests come from an untouched copy: the layout must not reach the tests themselves.
      const [tree, original] = ['tree', 'original'].map((d) => path.join(root, d, 'lib', 'python3.13'));
      for (const d of [tree!, original!]) {
        fs.mkdirSync(path.dirname(d), { recursive: true });
        const leave = ['idlelib', 'tkinter', 'turtledemo', 'site-packages', ...(d === tree ? ['test'] : [])];
        copyTree(stdlibOf(py), d, { exclude: leave });
      }
      const plan = path.join(root, 'plan.json');
      const p = runCli(['plan', 'pysources', tree!, '--python', py.exe, '-o', plan]);
      assert.equal(p.status, 0, p.stderr);
      const r = runCli([
        ...['apply', plan, '--verify', '--python', py.exe, '--levels', '0'],
        ...['--regrtest', 'test_traceback,test_linecache', '--tests-from', original!, '--json', ...SKIP],
      ]);
      const report = JSON.parse(r.stdout) as { outcome: string; verify: { regressions: unknown[] } };
      assert.deepEqual([report.outcome, report.verify.regressions], ['applied', []], r.stderr);
      assert.equal(r.status, 0);
      assert.ok(fs.existsSync(path.join(tree!, 'json', '__pysources__', 'decoder.py.gz')));
    } finally {
      removeTree(root);
    }
  });
});
