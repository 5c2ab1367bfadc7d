/**
 * compile's compileall options, each against CPython's own compileall run with the same option on the same
 * tree (same paths, so co_filename and mtimes agree): -x, -e, -d, -s, -p, -r, the invalidation mode that
 * SOURCE_DATE_EPOCH selects, and --json's counts against what compileall reports compiling.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pythonOf } from '../src/cli/main.js';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { cpython, type Interpreter, modernPython } from './helpers/python.js';
import { fastTempDir, linkGroups, removeTree, snapshot, writeTree } from './helpers/tree.js';

const py = modernPython(11);

/** Every .pyc: content hash and mode; and the inode groups among them. */
function caches(root: string): { files: Record<string, string>; groups: string[][] } {
  const files: Record<string, string> = {};
  for (const [rel, s] of snapshot(root))
    if (rel.endsWith('.pyc')) files[rel] = `${s.sha256} ${(s.mode & 0o7777).toString(8)}`;
  return { files, groups: linkGroups(root, (rel) => rel.endsWith('.pyc')) };
}

function dropCaches(root: string): void {
  spawnSync('find', [root, '-name', '__pycache__', '-prune', '-exec', 'rm', '-rf', '{}', '+']);
}

/** A tree with nesting (for -r), a file to exclude (-x), a symlink out of a subdirectory (-e). */
function tree(root: string): void {
  writeTree(root, {
    'top.py': '"""Top."""\nassert 1\n',
    'pkg/__init__.py': '',
    'pkg/mod.py': 'def f():\n    """Doc."""\n    assert f\n    return 1\n',
    'pkg/skip_me.py': 'x = 1\n',
    'pkg/deep/__init__.py': '',
    'pkg/deep/er/__init__.py': '',
    'pkg/deep/er/leaf.py': 'y = 2\n',
    'outer/target.py': 'z = 3\n',
  });
  fs.symlinkSync('../outer/target.py', path.join(root, 'pkg/link.py'));
  fs.symlinkSync('mod.py', path.join(root, 'pkg/inside.py'));
}

interface Case {
  name: string;
  /** compileall's arguments and pyfloppy's, for a tree at `root` (levels and -f are added). */
  args: (root: string) => string[];
  env?: Record<string, string>;
}

const CASES: Case[] = [
  { name: '-x (a regular expression both read alike)', args: (r) => ['-x', 'skip_me|deep/er', r] },
  { name: '-e (symlinks pointing outside DIR skipped)', args: (r) => ['-e', path.join(r, 'pkg'), r] },
  { name: '-d (the installed location in co_filename)', args: (r) => ['-d', '/usr/lib/python3/site', r] },
  { name: '-s and -p (stripped, then prepended)', args: (r) => ['-s', r, '-p', '/opt/app', r] },
  { name: '-r 0 (the directory only)', args: (r) => ['-r', '0', r] },
  { name: '-r 1 (one level down)', args: (r) => ['-r', '1', r] },
  {
    name: 'SOURCE_DATE_EPOCH set: checked-hash by default',
    args: (r) => [r],
    env: { SOURCE_DATE_EPOCH: '1700000000' },
  },
];

function compileall(i: Interpreter, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(i.exe, ['-m', 'compileall', '-f', '-o0', '-o1', '-o2', '--hardlink-dupes', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  assert.ok(r.status === 0 || r.status === 1, r.stdout + r.stderr);
  return r.stdout;
}

describe("compile's options write what compileall's write", () => {
  for (const c of CASES) {
    it(c.name, (t) => {
      if (!have(t, py, cpython('3.11 or later'))) return;
      const root = fastTempDir();
      try {
        tree(root);
        compileall(py, c.args(root), c.env);
        const want = caches(root);
        assert.ok(Object.keys(want.files).length > 0);
        dropCaches(root);
        const r = runCli(['compile', '-f', '-q', '-o0', '-o1', '-o2', '--python', py.exe, ...c.args(root)], {
          env: c.env ?? {},
        });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.deepEqual(caches(root), want);
      } finally {
        removeTree(root);
      }
    });
  }

  it('the cases differ from one another (each option changes what is written)', (t) => {
    if (!have(t, py, cpython('3.11 or later'))) return;
    const root = fastTempDir();
    try {
      tree(root);
      const seen = new Map<string, string>();
      for (const c of [{ name: 'no option', args: (r: string) => [r] } as Case, ...CASES]) {
        dropCaches(root);
        compileall(py, c.args(root), c.env);
        const key = JSON.stringify(caches(root));
        assert.equal(seen.get(key), undefined, `${c.name} writes what ${seen.get(key)} writes`);
        seen.set(key, c.name);
      }
    } finally {
      removeTree(root);
    }
  });

  it('--json: the versioned report, its counts those of compileall (sources compiled, errors named)', (t) => {
    if (!have(t, py, cpython('3.11 or later'))) return;
    const root = fastTempDir();
    try {
      tree(root);
      writeTree(root, { 'pkg/broken.py': 'def (:\n' });
      // compileall names each source it compiles ("Compiling '...'..."), and each that fails ("***   File").
      const out = compileall(py, [root]);
      const compiledByCpython = [...out.matchAll(/^Compiling '(.+)'\.\.\.$/gm)].map((m) => m[1]!);
      const failedByCpython = [...out.matchAll(/^\*\*\*\s+File "(.+)", line \d+$/gm)].map((m) => m[1]!);
      assert.deepEqual(failedByCpython, [path.join(root, 'pkg/broken.py')]);
      const want = caches(root);
      dropCaches(root);
      const r = runCli(['compile', '-f', '-o0', '-o1', '-o2', '--json', '--python', py.exe, root]);
      assert.equal(r.status, 1, r.stderr);
      const report = JSON.parse(r.stdout) as {
        schema: string;
        interpreter: { executable: string; cacheTag: string };
        levels: number[];
        sources: number;
        compiled: number;
        upToDate: number;
        written: number;
        linked: number;
        errors: Array<{ path: string; message: string }>;
      };
      assert.equal(report.schema, 'pyfloppy.compile/1');
      assert.equal(report.interpreter.cacheTag, `cpython-3${py.minor}`);
      assert.deepEqual(report.levels, [0, 1, 2]);
      assert.equal(report.sources, compiledByCpython.length);
      assert.equal(report.compiled, compiledByCpython.length - failedByCpython.length);
      assert.equal(report.upToDate, 0);
      assert.deepEqual(
        report.errors.map((e) => e.path),
        failedByCpython,
      );
      assert.match(report.errors[0]!.message, /SyntaxError/);
      // written + linked: one per cache file compileall wrote; linked: the extra names of its link groups.
      const got = caches(root);
      assert.deepEqual(got, want);
      const extraNames = want.groups.reduce((s, g) => s + g.length - 1, 0);
      assert.equal(report.linked, extraNames);
      assert.equal(report.written + report.linked, Object.keys(want.files).length);
    } finally {
      removeTree(root);
    }
  });
});

describe('the worker the command line starts before it parses (--python read ahead)', () => {
  it('reads --python VALUE and --python=VALUE up to --, else python3', () => {
    assert.equal(pythonOf(['compile', '--python', '/a/py', 'p']), '/a/py');
    assert.equal(pythonOf(['compile', '-f', '--python=/b/py', 'p']), '/b/py');
    assert.equal(pythonOf(['compile', 'p']), 'python3');
    assert.equal(pythonOf(['compile', '--', '--python', '/c/py']), 'python3');
  });

  it('a wrong guess is stopped and the interpreter commander parsed compiles; a usage error exits', (t) => {
    if (!have(t, py, cpython('3.11 or later'))) return;
    const root = fastTempDir();
    try {
      writeTree(root, { 'm.py': 'x = 1\n' });
      // -x takes "--python" as its value: the guess is a program named "--python", which cannot start.
      const r = runCli(['compile', '--json', '-x', '--python', '--python', py.exe, root], {
        timeout: 60_000,
      });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal((JSON.parse(r.stdout) as { compiled: number }).compiled, 1);
      assert.ok(fs.existsSync(path.join(root, '__pycache__', `m.cpython-3${py.minor}.pyc`)));
      // The worker started for a command line commander then refuses does not keep the process alive.
      const bad = runCli(['compile', '--python', py.exe, '--no-such-option', root], { timeout: 60_000 });
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(bad.stderr, /unknown option '--no-such-option'/);
    } finally {
      removeTree(root);
    }
  });
});
