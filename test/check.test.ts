/**
 * check on trees built by the real interpreters to have each defect: the exact findings expected, the stale
 * verdicts equal to importlib's own validation, and no warning on freshly compiled stdlibs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { check, type CheckReport } from '../src/check/check.js';
import { pythonMtime } from '../src/check/inspect.js';
import { runCli } from './helpers/cli.js';
import {
  compileAllLevels,
  copyStdlibSources,
  type Interpreter,
  cpython,
  interpreter,
  interpreters,
  modernPython,
  runPython,
  stdlibOf,
} from './helpers/python.js';
import { have } from './helpers/need.js';
import { fastTempDir, removeTree, writeTree } from './helpers/tree.js';

/**
 * Build pkg/ with one module per defect (argv: root, the other interpreter's pyc of foreign.py and of
 * wrongtag.py). Every module has a docstring and an assert, so that its three levels differ, except dup.py.
 */
const BUILD = String.raw`
import importlib.util, os, py_compile, shutil, sys
root, foreign_pyc, wrongtag_pyc = sys.argv[1], sys.argv[2], sys.argv[3]
pkg = os.path.join(root, 'pkg')
os.makedirs(os.path.join(pkg, '__pycache__'))
BODY = '"""doc"""\nassert True\nx = 1\n'
MODE = py_compile.PycInvalidationMode
def write(name, body=BODY):
    p = os.path.join(pkg, name)
    with open(p, 'w') as f:
        f.write(body)
    return p
def cache(src, level):
    return importlib.util.cache_from_source(src, optimization='' if level == 0 else level)
def comp(src, levels=(0, 1, 2), mode=MODE.TIMESTAMP, dfile=None):
    for l in levels:
        py_compile.compile(src, cfile=cache(src, l), dfile=dfile, doraise=True, optimize=l, invalidation_mode=mode)
def edit(src):
    with open(src, 'a') as f:
        f.write('y = 2\n')
for name in ['__init__', 'fresh', 'stale_size', 'stale_mtime', 'gone', 'shadow', 'trunc', 'foreign', 'oldmagic']:
    comp(write(name + '.py'))
edit(os.path.join(pkg, 'stale_size.py'))
st = os.stat(os.path.join(pkg, 'stale_mtime.py'))
os.utime(os.path.join(pkg, 'stale_mtime.py'), (st.st_atime, st.st_mtime + 100))
comp(write('checked.py'), mode=MODE.CHECKED_HASH)
comp(write('checked_edit.py'), mode=MODE.CHECKED_HASH)
edit(os.path.join(pkg, 'checked_edit.py'))
comp(write('unchecked.py'), mode=MODE.UNCHECKED_HASH)
comp(write('unchecked_edit.py'), mode=MODE.UNCHECKED_HASH)
edit(os.path.join(pkg, 'unchecked_edit.py'))
comp(write('no_opt2.py'), levels=(0, 1))
os.unlink(os.path.join(pkg, 'gone.py'))
py_compile.compile(os.path.join(pkg, 'shadow.py'), cfile=os.path.join(pkg, 'shadow.pyc'), doraise=True)
src = write('sourceless.py')
py_compile.compile(src, cfile=os.path.join(pkg, 'sourceless.pyc'), doraise=True)
os.unlink(src)
with open(cache(os.path.join(pkg, 'trunc.py'), 0), 'r+b') as f:
    f.truncate(10)
shutil.copy(foreign_pyc, os.path.join(pkg, '__pycache__', os.path.basename(foreign_pyc)))
src = write('wrongtag.py')
comp(src, levels=(1, 2))
shutil.copy(wrongtag_pyc, cache(src, 0))
with open(cache(os.path.join(pkg, 'oldmagic.py'), 0), 'r+b') as f:
    magic = int.from_bytes(f.read(2), 'little')
    f.seek(0)
    f.write((magic - 1).to_bytes(2, 'little'))
comp(write('built.py'), dfile='/builddir/BUILDROOT/usr/lib/pkg/built.py')
comp(write('dup.py', 'x = 1\n'))
write('broken.py', 'def (:\n')
with open(os.path.join(pkg, '__pycache__', 'junk.pyc'), 'wb') as f:
    f.write(b'junk')
with open(os.path.join(pkg, 'old.pyo'), 'wb') as f:
    f.write(b'old')
os.makedirs(os.path.join(root, 'not-a-package'))
with open(os.path.join(root, 'not-a-package', 'x.py'), 'w') as f:
    f.write('x = 1\n')
print(sys.implementation.cache_tag)
`;

/** importlib's own verdict on every cache of the interpreter's tag that has a source: stale or rejected. */
const IMPORTLIB_VERDICT = String.raw`
import importlib._bootstrap_external as bx, importlib.util, json, os, sys, _imp
root = sys.argv[1]
out = {'stale': [], 'rejected': []}
for d, _, files in os.walk(root):
    if os.path.basename(d) != '__pycache__':
        continue
    for n in sorted(files):
        if n.split('.')[1:2] != [sys.implementation.cache_tag]:
            continue  # another interpreter's cache: this one never reads it
        p = os.path.join(d, n)
        try:
            src = importlib.util.source_from_cache(p)
        except ValueError:
            continue
        if not os.path.exists(src):
            continue
        rel = os.path.relpath(p, root)
        with open(p, 'rb') as f:
            data = f.read()
        try:
            flags = bx._classify_pyc(data, n, {})
        except (ImportError, EOFError):
            out['rejected'].append(rel)
            continue
        try:
            if flags & 1:
                if flags & 2:
                    with open(src, 'rb') as f:
                        h = _imp.source_hash(bx._RAW_MAGIC_NUMBER, f.read())
                    bx._validate_hash_pyc(data, h, n, {})
            else:
                st = os.stat(src)
                bx._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size, n, {})  # as SourceLoader.get_code
        except ImportError:
            out['stale'].append(rel)
print(json.dumps(out))
`;

function otherInterpreter(py: Interpreter): Interpreter | undefined {
  return interpreters()
    .filter((i) => i.minor >= 7 && i.minor !== py.minor)
    .sort((a, b) => Math.abs(a.minor - py.minor) - Math.abs(b.minor - py.minor))[0];
}

function pairs(r: CheckReport, root: string): string[] {
  return r.findings.map((f) => `${f.id} ${path.relative(root, f.path)}`).sort();
}

describe('check finds each defect a real interpreter can leave in a tree', () => {
  for (const v of ['3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13']) {
    it(`Python ${v}: exactly the expected findings, stale verdicts equal importlib's`, async (t) => {
      const py = interpreter(v);
      if (!have(t, py, cpython(v))) return;
      const other = otherInterpreter(py);
      if (!have(t, other, cpython(`3.7 or later other than ${v}`))) return;
      const root = fastTempDir();
      try {
        // The other interpreter compiles two sources; its caches go in as a foreign tag and under our tag.
        const scratch = path.join(root, 'scratch');
        writeTree(scratch, { 'foreign.py': '"""doc"""\nassert True\nx = 1\n', 'wrongtag.py': 'x = 2\n' });
        const made = runPython(
          other,
          'import py_compile, sys; print(py_compile.compile(sys.argv[1], doraise=True)); print(py_compile.compile(sys.argv[2], doraise=True))',
          [path.join(scratch, 'foreign.py'), path.join(scratch, 'wrongtag.py')],
        )
          .trim()
          .split('\n');
        const tree = path.join(root, 'tree');
        const tag = runPython(py, BUILD, [tree, made[0]!, made[1]!]).trim();
        const otherTag = path.basename(made[0]!).split('.')[1]!;
        const c = (m: string, l: number): string =>
          `pkg/__pycache__/${m}.${tag}${l === 0 ? '' : `.opt-${l}`}.pyc`;
        const all = (m: string): string[] => [0, 1, 2].map((l) => c(m, l));
        const expected = [
          ...all('stale_size').map((p) => `stale-timestamp ${p}`),
          ...all('stale_mtime').map((p) => `stale-timestamp ${p}`),
          ...all('checked_edit').map((p) => `stale-hash ${p}`),
          ...all('unchecked_edit').map((p) => `stale-hash ${p}`),
          ...all('unchecked').map((p) => `unchecked-hash ${p}`),
          ...all('unchecked_edit').map((p) => `unchecked-hash ${p}`),
          'missing-level pkg/no_opt2.py',
          ...all('gone').map((p) => `orphan ${p}`),
          'orphan pkg/__pycache__/junk.pyc',
          'orphan pkg/old.pyo',
          'shadowed-legacy pkg/shadow.pyc',
          `bad-header ${c('trunc', 0)}`,
          `bad-header ${c('wrongtag', 0)}`,
          `foreign-tag pkg/__pycache__/foreign.${otherTag}.pyc`,
          `foreign-tag ${c('oldmagic', 0)}`,
          ...all('built').map((p) => `buildroot-path ${p}`),
          `unlinked-duplicate ${c('dup', 1)}`,
          `unlinked-duplicate ${c('dup', 2)}`,
        ];

        const given = await check({ paths: [tree], python: py.exe, workers: 0 });
        assert.equal(given.interpreter.source, 'python');
        assert.equal(given.interpreter.cacheTag, tag);
        assert.deepEqual(pairs(given, tree), [...expected, 'uncompilable pkg/broken.py'].sort());

        // Without --python: inferred from the dominant tag, same findings, and the uncompilable source cannot
        // be told apart from a missing cache.
        const inferred = await check({ paths: [tree], workers: 0 });
        assert.equal(inferred.interpreter.source, 'inferred');
        assert.equal(inferred.interpreter.cacheTag, tag);
        assert.equal(inferred.interpreter.magic, given.interpreter.magic);
        assert.deepEqual(pairs(inferred, tree), [...expected, 'missing-level pkg/broken.py'].sort());

        // The worker pool gives the same answer as this thread.
        const pooled = await check({ paths: [tree], python: py.exe, workers: 2 });
        assert.deepEqual(pairs(pooled, tree), pairs(given, tree));

        // importlib's validation is the reference for what is stale and what is rejected.
        const verdict = JSON.parse(runPython(py, IMPORTLIB_VERDICT, [tree])) as {
          stale: string[];
          rejected: string[];
        };
        const ours = (ids: string[]) =>
          given.findings
            .filter(
              (f) =>
                ids.includes(f.id) &&
                f.path.includes(`.${tag}.`) &&
                !(f.id === 'stale-hash' && f.path.includes('unchecked')),
            )
            .map((f) => path.relative(tree, f.path))
            .sort();
        assert.deepEqual(ours(['stale-timestamp', 'stale-hash']), [...verdict.stale].sort());
        assert.deepEqual(ours(['bad-header', 'foreign-tag']), [...verdict.rejected].sort());
      } finally {
        removeTree(root);
      }
    });
  }

  it('buildroot-path: compiled in a build root with and without -d, checked with --expect-prefix', async (t) => {
    const py = modernPython(9);
    if (!have(t, py, cpython('3.9 or later'))) return;
    const root = fastTempDir();
    try {
      const installed = '/usr/lib/python3/site-packages';
      const good = path.join(root, 'good');
      const bad = path.join(root, 'bad');
      for (const d of [good, bad])
        writeTree(d, { 'app/__init__.py': '', 'app/core.py': 'def f():\n    return 1\n' });
      const run = (args: string[]) => {
        const r = spawnSync(py.exe, ['-m', 'compileall', '-q', '-o0', '-o1', ...args], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      };
      run(['-d', installed, good]);
      run([bad]);
      const ok = await check({ paths: [good], expectPrefix: installed, workers: 0 });
      assert.deepEqual(
        ok.findings.filter((f) => f.id === 'buildroot-path'),
        [],
      );
      const leak = await check({ paths: [bad], expectPrefix: installed, workers: 0 });
      const found = leak.findings.filter((f) => f.id === 'buildroot-path');
      assert.equal(found.length, 4); // two modules, two levels
      assert.match(
        found[0]!.message,
        new RegExp(`is "${bad}/app/.*\\.py", the installed path is ${installed}/app/`),
      );
      // Where the tree is its own installed location, the build root is right.
      const here = await check({ paths: [bad], workers: 0 });
      assert.deepEqual(
        here.findings.filter((f) => f.id === 'buildroot-path'),
        [],
      );
    } finally {
      removeTree(root);
    }
  });
});

describe('check never reads through a symlink', () => {
  it("a source that is a symlink out of the tree is neither read nor stat'ed through", async (t) => {
    const py = modernPython(9);
    if (!have(t, py, cpython('3.9 or later'))) return;
    const root = fastTempDir();
    try {
      const tree = path.join(root, 'tree');
      writeTree(root, { 'outside/a.py': 'x = 1\n', 'tree/m/__init__.py': '' });
      fs.symlinkSync(path.join(root, 'outside', 'a.py'), path.join(tree, 'm', 'a.py'));
      const r = spawnSync(py.exe, ['-m', 'compileall', '-q', '-o0', '-o1', '--hardlink-dupes', tree]);
      assert.equal(r.status, 0, String(r.stderr));
      // The file outside changes: through the link the cache would be stale; pyfloppy does not look there.
      fs.appendFileSync(path.join(root, 'outside', 'a.py'), 'y = 2\n');
      const report = await check({ paths: [tree], workers: 0 });
      assert.equal(report.files.symlinkedSources, 2); // a's two cache levels
      assert.deepEqual(report.findings, []);
    } finally {
      removeTree(root);
    }
  });
});

describe('check reports no warning on freshly compiled stdlibs', () => {
  it('the whole 3.13 stdlib compiled with compileall -o0 -o1 -o2 --hardlink-dupes', async (t) => {
    const py = interpreter('3.13');
    if (!have(t, py, cpython('3.13'))) return;
    const root = fastTempDir();
    try {
      const lib = path.join(root, 'python3.13');
      // Sources only: the copy is compiled here, by the interpreter's own compileall.
      copyStdlibSources(py, lib);
      // Exit 1 is expected: the stdlib's test data has sources that do not compile.
      spawnSync(py.exe, ['-m', 'compileall', '-q', '-j0', '-o0', '-o1', '-o2', '--hardlink-dupes', lib]);
      const report = await check({ paths: [lib], python: py.exe });
      const notInfo = report.findings.filter((f) => f.severity !== 'info');
      assert.deepEqual(notInfo, []);
      assert.deepEqual([...new Set(report.findings.map((f) => f.id))], ['uncompilable']);
      assert.ok(report.files.caches > 5000, `${report.files.caches} caches`);
    } finally {
      removeTree(root);
    }
  });

  for (const v of ['3.6', '3.7', '3.8', '3.9', '3.10', '3.11', '3.12']) {
    it(`Python ${v}: email, json and os compiled at three levels`, async (t) => {
      const py = interpreter(v);
      if (!have(t, py, cpython(v))) return;
      const root = fastTempDir();
      try {
        const std = stdlibOf(py);
        const lib = path.join(root, 'lib');
        fs.mkdirSync(lib);
        for (const m of ['email', 'json']) {
          fs.cpSync(path.join(std, m), path.join(lib, m), {
            recursive: true,
            filter: (s) => path.basename(s) !== '__pycache__',
          });
        }
        fs.copyFileSync(path.join(std, 'os.py'), path.join(lib, 'os.py'));
        compileAllLevels(py, lib);
        const report = await check({
          paths: [lib],
          python: py.exe,
          workers: 0,
          ignore: ['unlinked-duplicate'],
        });
        assert.deepEqual(report.findings, []);
        assert.equal(report.interpreter.cacheTag, `cpython-3${py.minor}`);
      } finally {
        removeTree(root);
      }
    });
  }
});

describe('check agrees with CPython on details', () => {
  it('int(os.stat().st_mtime) as importlib computes it, at nanosecond edges', (t) => {
    const py = interpreter('3.13') ?? interpreters().pop();
    if (!have(t, py, cpython('3'))) return;
    const root = fastTempDir();
    try {
      const times = [
        1_700_000_000_000_000_000n,
        1_700_000_000_999_999_999n,
        1_700_000_000_999_999_700n,
        1_700_000_000_500_000_000n,
        -1_000_000_001n,
        4_400_000_000_999_999_999n,
      ];
      const files = times.map((ns, k) => {
        const p = path.join(root, `f${k}.py`);
        fs.writeFileSync(p, '');
        const r = spawnSync(py.exe, [
          '-c',
          'import os, sys; os.utime(sys.argv[1], ns=(0, int(sys.argv[2])))',
          p,
          `${ns}`,
        ]);
        assert.equal(r.status, 0, String(r.stderr));
        return p;
      });
      const theirs = runPython(
        py,
        'import os, sys; print(" ".join(str(int(os.stat(p).st_mtime) & 0xFFFFFFFF) for p in sys.argv[1:]))',
        files,
      )
        .trim()
        .split(' ')
        .map(Number);
      const ours = files.map((p) => pythonMtime(fs.statSync(p, { bigint: true }).mtimeNs));
      assert.deepEqual(ours, theirs);
    } finally {
      removeTree(root);
    }
  });
});

describe('pyfloppy check (CLI)', () => {
  it('exit 1 with findings, 0 on a clean tree, the JSON schema, and usage errors', (t) => {
    const py = modernPython(9);
    if (!have(t, py, cpython('3.9 or later'))) return;
    const root = fastTempDir();
    try {
      writeTree(root, { 'm/__init__.py': '"""d"""\n', 'm/a.py': 'assert 1\n' });
      const r0 = spawnSync(py.exe, ['-m', 'compileall', '-q', '-o0', '-o1', '-o2', '--hardlink-dupes', root]);
      assert.equal(r0.status, 0);
      const clean = runCli(['check', root]);
      assert.equal(clean.status, 0, clean.stdout + clean.stderr);
      assert.match(clean.stdout, /interpreter: cpython-3\d+ .*inferred from the dominant cache tag/);
      assert.match(clean.stdout, /result: 0 errors, 0 warnings, 0 infos/);

      fs.appendFileSync(path.join(root, 'm', 'a.py'), 'x = 1\n');
      const stale = runCli(['check', root, '--python', py.exe]);
      assert.equal(stale.status, 1);
      assert.match(stale.stdout, /^stale-timestamp +\| warning +\| +3 \|/m);
      assert.match(stale.stdout, /given: /);
      const json = runCli(['check', root, '--json']);
      assert.equal(json.status, 1);
      const report = JSON.parse(json.stdout) as CheckReport;
      assert.equal(report.schema, 'pyfloppy.check/1');
      assert.deepEqual(
        report.summary.map((s) => [s.id, s.count]),
        [['stale-timestamp', 3]],
      );
      assert.equal(runCli(['check', root, '--ignore', 'stale-timestamp']).status, 0);

      const unknown = runCli(['check', root, '--ignore', 'nonsense']);
      assert.equal(unknown.status, 2);
      assert.match(unknown.stderr, /unknown finding 'nonsense'/);
      const twoPaths = runCli(['check', root, root, '--expect-prefix', '/usr']);
      assert.equal(twoPaths.status, 2);
      assert.match(twoPaths.stderr, /--expect-prefix needs exactly one PATH/);
      const noInterp = runCli(['check', root, '--python', path.join(root, 'no-such-python')]);
      assert.equal(noInterp.status, 2);
      assert.match(noInterp.stderr, /interpreter not found/);
    } finally {
      removeTree(root);
    }
  });
});
