/**
 * compile killed with SIGKILL mid-run: every .pyc visible under its final name is a whole cache (its code
 * unmarshals), and an immutable __pycache__ is reported for its sources while the rest compiles.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { compile } from '../src/compile/compile.js';
import { BIN } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { copyStdlibSources, interpreter, runPython, cpython } from './helpers/python.js';
import { fastTempDir, removeTree, writeTree } from './helpers/tree.js';

/** The .pyc files below dir (whole or not). */
function pycs(dir: string): number {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.pyc')).length;
}

const ALL_WHOLE = String.raw`
import marshal, os, sys
bad = []
for d, _, files in os.walk(sys.argv[1]):
    for n in files:
        if n.endswith('.pyc'):
            data = open(os.path.join(d, n), 'rb').read()
            try:
                marshal.loads(data[16:])
            except Exception as e:
                bad.append(os.path.join(d, n))
print(len(bad))
`;

describe('compile under failure', () => {
  it('killed with SIGKILL at three points: no partial .pyc under its final name', async (t) => {
    const py = interpreter('3.13');
    if (!have(t, py, cpython('3.13'))) return;
    const root = fastTempDir();
    try {
      const lib = path.join(root, 'lib');
      copyStdlibSources(py, lib);
      const args = [BIN, 'compile', '-q', '-f', '-j2', '-o0', '-o1', '-o2', '--python', py.exe, lib];
      // Killed once the first cache is there, and 0.5 s and 1.5 s later: each run starts from no cache.
      for (const ms of [0, 500, 1500]) {
        spawnSync('find', [lib, '-name', '__pycache__', '-prune', '-exec', 'rm', '-rf', '{}', '+']);
        assert.equal(pycs(lib), 0);
        const child = spawn(process.execPath, args, { stdio: 'ignore' });
        const exited = new Promise<NodeJS.Signals | null>((r) =>
          child.once('exit', (_, signal) => r(signal)),
        );
        for (const until = Date.now() + 60_000; pycs(lib) === 0; await new Promise((r) => setTimeout(r, 20)))
          assert.ok(Date.now() < until, 'no cache written within a minute');
        await new Promise((r) => setTimeout(r, ms));
        child.kill('SIGKILL');
        // Killed by the signal (not exited on its own: the run had not finished), with caches written.
        assert.equal(await exited, 'SIGKILL', `killed ${ms} ms after the first cache, not finished before`);
        // The workers die with their stdin closed; give them a moment.
        await new Promise((r) => setTimeout(r, 300));
        assert.ok(pycs(lib) > 0);
        assert.equal(runPython(py, ALL_WHOLE, [lib]).trim(), '0');
      }
    } finally {
      removeTree(root);
    }
  });

  it('an immutable __pycache__: its sources are reported, the others compile, nothing is left behind', async (t) => {
    const py = interpreter('3.13') ?? interpreter('3.12');
    if (!have(t, py, cpython('3.12 or later'))) return;
    const root = fastTempDir();
    const locked = path.join(root, 'locked', '__pycache__');
    try {
      writeTree(root, { 'locked/a.py': 'x = 1\n', 'locked/b.py': 'y = 1\n', 'open/c.py': 'z = 1\n' });
      fs.mkdirSync(locked);
      const immutable = spawnSync('chattr', ['+i', locked]).status === 0;
      if (!have(t, immutable, 'chattr +i (root, and a file system with immutable files)')) return;
      const r = await compile({ paths: [root], python: py.exe, levels: [0, 1] });
      assert.deepEqual(r.errors.map((e) => path.relative(root, e.path)).sort(), [
        'locked/a.py',
        'locked/b.py',
      ]);
      assert.match(r.errors[0]!.message, /EPERM|not permitted/);
      assert.deepEqual(fs.readdirSync(locked), []);
      assert.equal(r.compiled, 1);
    } finally {
      spawnSync('chattr', ['-i', locked]);
      removeTree(root);
    }
  });
});
