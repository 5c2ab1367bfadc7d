/**
 * Promise 2 for pyfloppy's own interpreters: no interpreter pyfloppy starts writes into a tree unless writing
 * is its job (the compile worker). The tree is a relocated copy of a CPython installation without any cache
 * (bin/pythonX.Y and lib/pythonX.Y, so that the copy's interpreter loads this library as its own): every
 * probe and worker run with that interpreter would leave caches there if it were started without -B.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { cpython, type Interpreter, modernPython } from './helpers/python.js';
import { fastTempDir, removeTree, snapshot } from './helpers/tree.js';

/** bin/pythonX.Y and lib/pythonX.Y of `py` copied under `prefix`, without test, site-packages or caches. */
function relocatedInstall(py: Interpreter, prefix: string): { exe: string; lib: string } {
  const home = path.resolve(path.dirname(fs.realpathSync(py.exe)), '..');
  const name = `python${py.major}.${py.minor}`;
  const exe = path.join(prefix, 'bin', name);
  const lib = path.join(prefix, 'lib', name);
  fs.mkdirSync(path.dirname(exe), { recursive: true });
  fs.copyFileSync(path.join(home, 'bin', name), exe);
  fs.chmodSync(exe, 0o755);
  const from = path.join(home, 'lib', name);
  fs.cpSync(from, lib, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(from, src);
      return rel !== 'test' && rel !== 'site-packages' && path.basename(src) !== '__pycache__';
    },
  });
  return { exe, lib };
}

function cachesUnder(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((rel) => rel.endsWith('.pyc') || path.basename(rel) === '__pycache__')
    .sort();
}

describe('the interpreters pyfloppy starts write nothing into the tree', () => {
  it('analyze --python, check --python, verify and apply --verify leave a cache-less installation without caches', (t) => {
    const py = modernPython(8);
    if (!have(t, py, cpython('3.8 or later'))) return;
    const root = fastTempDir();
    try {
      const { exe, lib } = relocatedInstall(py, path.join(root, 'prefix'));
      assert.deepEqual(cachesUnder(root), []);
      const before = snapshot(lib);
      // The environment of the user: writing bytecode allowed (this machine's PYTHONDONTWRITEBYTECODE unset).
      const env = { PYTHONDONTWRITEBYTECODE: undefined };
      const run = (args: string[]): void => {
        const r = runCli(args, { env });
        assert.ok(r.status === 0 || r.status === 1, `${args.join(' ')}: ${r.stderr}`);
      };
      run(['analyze', lib, '--python', exe]);
      run(['check', lib, '--python', exe]);
      run(['verify', lib, '--python', exe, '--levels', '0', '--exclude', 'idlelib', '--exclude', 'tkinter']);
      assert.deepEqual(cachesUnder(root), [], 'caches after analyze, check and verify');
      assert.deepEqual(snapshot(lib), before, 'the tree after analyze, check and verify');

      const plan = path.join(root, 'plan.json');
      const p = runCli(['plan', 'strip-tests', lib, '-o', plan], { env });
      assert.equal(p.status, 0, p.stderr);
      const a = runCli(
        ['apply', plan, '--verify', '--python', exe, '--levels', '0', '--exclude', 'tkinter'],
        { env },
      );
      assert.equal(a.status, 0, a.stderr);
      assert.match(a.stdout, /regressions: 0/);
      assert.ok(!fs.existsSync(path.join(lib, 'idlelib', 'idle_test')), 'the plan was applied');
      assert.deepEqual(cachesUnder(root), [], 'caches after apply --verify');
    } finally {
      removeTree(root);
    }
  });
});
