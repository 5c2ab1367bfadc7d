/**
 * The file system refusing (a full disk while the journal's plan is written, a rollback blocked by an
 * immutable directory or a read-only mount) ends in one `pyfloppy: error:` line naming the errno, exit 2,
 * never a stack trace; nothing is lost, and once the cause is gone the same command finishes the job.
 * Made real where this machine allows it (tmpfs mounts, chattr on the disk's file system); skipped with a
 * message elsewhere.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { plan } from '../src/plan/plan.js';
import { runCli } from './helpers/cli.js';
import { digest, hostileTree } from './helpers/hostile.js';
import { have } from './helpers/need.js';
import { interpreter, cpython } from './helpers/python.js';
import { copyTree, removeTree, tempDir } from './helpers/tree.js';

const py = interpreter('3.13');

/** Exit 2 and exactly one error line matching `why`, no stack trace. */
function oneLine(r: { status: number | null; stdout: string; stderr: string }, why: RegExp): void {
  assert.equal(r.status, 2, r.stdout + r.stderr);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('pyfloppy: error:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, why);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
}

describe('errno failures of apply and rollback', () => {
  let work = '';
  let template = '';
  let count = 0;
  before(() => {
    if (py === undefined) return;
    // On the disk's file system (tmpfs has no chattr +i).
    work = tempDir('pyfloppy-errno-', os.tmpdir());
    template = path.join(work, 'template');
    hostileTree(py, template);
  });
  after(() => removeTree(work));

  async function planned(tree: string, strategies = 'pysources'): Promise<string> {
    const file = `${tree}.json`;
    fs.writeFileSync(
      file,
      JSON.stringify(
        await plan({ strategies: strategies.split(','), path: tree, workers: 0, python: py!.exe }),
      ),
    );
    return file;
  }

  /** A tmpfs mounted at a new directory, or null (with the test skipped) where mounting is not allowed. */
  function tmpfs(t: TestContext, size: string): string | null {
    const mnt = path.join(work, `mnt${count++}`);
    fs.mkdirSync(mnt);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]).status === 0;
    if (!have(t, mounted, 'mounting a tmpfs (root, CAP_SYS_ADMIN)')) return null;
    return mnt;
  }

  it('a full disk while the journal is started: one ENOSPC line, the tree untouched, no journal left', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const mnt = tmpfs(t, '4m');
    if (mnt === null) return;
    try {
      const tree = path.join(mnt, 'tree');
      copyTree(template, tree);
      const file = await planned(tree, 'drop-opt2');
      // Fill what is left but four pages: room for the lock, none for the journal's plan.json.
      const filler = path.join(mnt, 'filler');
      spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
      fs.truncateSync(filler, fs.statSync(filler).size - 16384);
      assert.ok(fs.statSync(file).size > 16384, 'the plan is larger than the room left');
      const before = digest(tree);
      oneLine(
        runCli(['apply', file]),
        /cannot start the journal, nothing was changed: .*no space left on device \(ENOSPC/,
      );
      assert.equal(digest(tree), before);
      assert.ok(!fs.existsSync(path.join(tree, '.pyfloppy-journal')));
      fs.unlinkSync(filler);
      assert.equal(runCli(['apply', file]).status, 0, 'with room again, the same plan applies');
    } finally {
      spawnSync('umount', [mnt]);
    }
  });

  it('a rollback blocked by an immutable directory: one EPERM line, the journal kept; after chattr -i it restores all', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const tree = path.join(work, `case${count++}`);
    copyTree(template, tree);
    const original = digest(tree);
    const file = await planned(tree);
    assert.equal(runCli(['apply', '--no-commit', file]).status, 0);
    const json = path.join(tree, 'json');
    const immutable = spawnSync('chattr', ['+i', json]).status === 0;
    if (!have(t, immutable, 'chattr +i (root, and a file system with immutable files)')) return;
    try {
      oneLine(runCli(['apply', '--rollback', file]), /operation not permitted \(EPERM/);
      assert.ok(fs.existsSync(path.join(tree, '.pyfloppy-journal', 'plan.json')), 'the journal is kept');
    } finally {
      spawnSync('chattr', ['-i', json]);
    }
    const r = runCli(['apply', '--rollback', file]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(digest(tree), original);
  });

  it('a rollback on a read-only mount: one EROFS line, the journal kept; remounted read-write it restores all', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const mnt = tmpfs(t, '64m');
    if (mnt === null) return;
    try {
      const tree = path.join(mnt, 'tree');
      copyTree(template, tree);
      const original = digest(tree);
      const file = await planned(tree);
      assert.equal(runCli(['apply', '--no-commit', file]).status, 0);
      assert.equal(spawnSync('mount', ['-o', 'remount,ro', mnt]).status, 0);
      oneLine(runCli(['apply', '--rollback', file]), /read-only file system \(EROFS/);
      assert.equal(spawnSync('mount', ['-o', 'remount,rw', mnt]).status, 0);
      assert.ok(fs.existsSync(path.join(tree, '.pyfloppy-journal', 'plan.json')), 'the journal is kept');
      const r = runCli(['apply', '--rollback', file]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(digest(tree), original);
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});
