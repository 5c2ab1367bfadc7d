/**
 * verify refuses an interpreter older than 3.8 with one error line (exit 2), and changes nothing: its own
 * test, so that a machine without CPython 3.7 reports it skipped (and CI fails) instead of dropping the check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { cpython, interpreter } from './helpers/python.js';
import { fastTempDir, removeTree, snapshot, writeTree } from './helpers/tree.js';

describe('verify and old interpreters', () => {
  it('Python 3.7 is refused with exit 2, naming the version verify needs; nothing written', (t) => {
    const old = interpreter('3.7');
    if (!have(t, old, cpython('3.7'))) return;
    const root = fastTempDir();
    try {
      writeTree(root, { 'm.py': 'X = 1\n' });
      const before = snapshot(root);
      const r = runCli(['verify', root, '--python', old.exe], { env: { PYTHONDONTWRITEBYTECODE: '' } });
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr.split('\n')[0]!, /Python 3\.7\.\d+: verify needs Python 3\.8 or newer/);
      assert.equal(r.stdout, '');
      assert.deepEqual(snapshot(root), before);
    } finally {
      removeTree(root);
    }
  });
});
