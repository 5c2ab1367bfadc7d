/**
 * dedup against a hostile tree (issue 19): a directory of the tree swapped for a symlink while dedup runs
 * (to a decoy outside, or to the real directory moved outside, so that every fingerprint still matches) and
 * after a killed run; a second run while one holds the tree; an inode also named outside the tree; leftover
 * temporaries of every kind. Directories outside the tree are digested (paths, SHA-256, inode, link count)
 * before and after: unchanged.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { dedup } from '../src/dedup/dedup.js';
import { type FsCalls, realCalls } from '../src/fsops/link.js';
import { lockTree } from '../src/fsops/lock.js';
import { BIN, runCli } from './helpers/cli.js';
import { deadPid, digest, swap, waitFor } from './helpers/hostile.js';
import { have } from './helpers/need.js';
import { copyTree, fastTempDir, linkGroups, removeTree, snapshot, writeTree } from './helpers/tree.js';

const TAG = 'cpython-313';

/** Modules whose three levels are byte-identical, in each of `dirs`. */
function template(root: string, dirs: string[], modules: number): void {
  const files: Record<string, string> = {};
  for (const dir of dirs) {
    for (let m = 0; m < modules; m++) {
      const body = `${dir} module ${m} `.repeat(40);
      files[`${dir}/m${m}.py`] = `x = ${m}\n`;
      for (const level of ['', '.opt-1', '.opt-2'])
        files[`${dir}/__pycache__/m${m}.${TAG}${level}.pyc`] = body;
    }
  }
  writeTree(root, files);
}

describe('dedup against a hostile tree', () => {
  it('a directory moved out mid-run with a symlink left in its place: nothing outside changes', async () => {
    const work = fastTempDir();
    try {
      const T = path.join(work, 'T');
      template(T, ['email', 'json'], 10);
      const moved = path.join(work, 'json-moved');
      let links = 0;
      let atSwap = '';
      // Why the second link: some links are made before the swap, and the rest meets a symlink that leads to
      // the very directory that was scanned (same inodes, so every fingerprint still matches).
      const calls: FsCalls = {
        ...realCalls,
        link: (a, b) => {
          if (++links === 2) {
            atSwap = digest(path.join(T, 'json'));
            swap(path.join(T, 'json'), moved);
          }
          realCalls.link(a, b);
        },
      };
      const report = await dedup({ paths: [T], calls, workers: 0 });
      assert.ok(links >= 2, 'the swap never happened');
      assert.equal(digest(moved), atSwap, 'the directory moved outside was changed');
      const unsafe = report.skipped.filter((s) => s.reason === ('unsafe' as string));
      assert.ok(unsafe.length > 0, JSON.stringify(report.skipped));
      assert.match(unsafe[0]!.message, /symlink/);
      assert.ok(report.skipped.every((s) => s.target.includes('/json/')));
    } finally {
      removeTree(work);
    }
  });

  it('a directory swapped for a symlink to a decoy outside mid-run, with --all: the decoy is untouched', async () => {
    const work = fastTempDir();
    try {
      const T = path.join(work, 'T');
      template(T, ['email', 'json'], 10);
      const decoy = path.join(work, 'decoy');
      copyTree(path.join(T, 'json'), decoy);
      const before = digest(decoy);
      let links = 0;
      const calls: FsCalls = {
        ...realCalls,
        link: (a, b) => {
          if (++links === 1) swap(path.join(T, 'json'), path.join(work, 'json-away'), decoy);
          realCalls.link(a, b);
        },
      };
      const report = await dedup({ paths: [T], calls, workers: 0, all: true });
      assert.equal(digest(decoy), before);
      assert.ok(report.skipped.some((s) => s.reason === ('unsafe' as string)));
    } finally {
      removeTree(work);
    }
  });

  it('after a killed run, the real directory moved out and a symlink left: the next run acts only inside', async () => {
    const work = fastTempDir();
    try {
      const T = path.join(work, 'T');
      template(T, ['email', 'json', 'p1', 'p2', 'p3', 'p4'], 250);
      const child = spawn(process.execPath, [BIN, 'dedup', T], { stdio: 'ignore' });
      await waitFor(() => fs.existsSync(path.join(T, '.pyfloppy-lock')), 10_000);
      await new Promise((r) => setTimeout(r, 150));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const moved = path.join(work, 'json-moved');
      swap(path.join(T, 'json'), moved);
      // A partial cache a killed compile left inside the tree, and one in the directory now outside.
      const dead = deadPid();
      writeTree(T, { [`email/__pycache__/.pyfloppy-${dead}-0-c1.tmp`]: 'partial' });
      writeTree(moved, { [`__pycache__/.pyfloppy-${dead}-0-c2.tmp`]: 'partial' });
      const before = digest(moved);
      const r = runCli(['dedup', '--json', T]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(digest(moved), before, 'the moved-out directory was changed');
      const report = JSON.parse(r.stdout) as { leftoversRemoved: string[] };
      assert.ok(report.leftoversRemoved.some((p) => p.endsWith(`.pyfloppy-${dead}-0-c1.tmp`)));
      const left = [...snapshot(T).keys()].filter((rel) => path.basename(rel).startsWith('.pyfloppy-'));
      assert.deepEqual(left, []);
      assert.equal(linkGroups(T).length, 5 * 250);
    } finally {
      removeTree(work);
    }
  });

  it('two runs at once: the second is refused with one error line naming the holder', async () => {
    const work = fastTempDir();
    try {
      const T = path.join(work, 'T');
      template(T, ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'], 250);
      const child = spawn(process.execPath, [BIN, 'dedup', T], { stdio: 'ignore' });
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      await waitFor(() => fs.existsSync(path.join(T, '.pyfloppy-lock')), 10_000);
      child.kill('SIGSTOP');
      const second = runCli(['dedup', T]);
      child.kill('SIGCONT');
      assert.equal(second.status, 2);
      const lines = second.stderr.trim().split('\n');
      assert.equal(lines.filter((l) => l.startsWith('pyfloppy: error:')).length, 1, second.stderr);
      assert.match(lines[0]!, new RegExp(`being changed by another run: pyfloppy dedup \\(pid ${child.pid}`));
      assert.equal(await exited, 0);
      assert.equal(fs.existsSync(path.join(T, '.pyfloppy-lock')), false);
      // A lock held by another command (an apply) refuses dedup the same way.
      const lock = lockTree(T, 'apply');
      try {
        const r = runCli(['dedup', T]);
        assert.equal(r.status, 2);
        assert.match(r.stderr, /^pyfloppy: error: .* pyfloppy apply \(pid \d+/);
        assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
      } finally {
        lock.release();
      }
    } finally {
      removeTree(work);
    }
  });

  it('a leftover that cannot be removed (immutable directory) is reported, never a stack trace', (t) => {
    const work = fastTempDir();
    const cache = path.join(work, 'T', 'p', '__pycache__');
    try {
      const T = path.join(work, 'T');
      template(T, ['p', 'q'], 2);
      fs.linkSync(path.join(cache, `m0.${TAG}.pyc`), path.join(cache, `.pyfloppy-${deadPid()}-0-3.tmp`));
      const immutable = spawnSync('chattr', ['+i', cache]).status === 0;
      if (!have(t, immutable, 'chattr +i (root, and a file system with immutable files)')) return;
      const r = runCli(['dedup', '--json', T]);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, r.stderr);
      assert.equal(r.status, 1, r.stderr);
      const report = JSON.parse(r.stdout) as {
        problems: Array<{ code: string }>;
        leftoversRemoved: string[];
      };
      assert.deepEqual(
        report.problems.map((p) => p.code),
        ['EPERM'],
      );
      assert.deepEqual(report.leftoversRemoved, []);
    } finally {
      spawnSync('chattr', ['-i', cache]);
      removeTree(work);
    }
  });

  it('an inode also named outside the tree is left alone, and the output says so', () => {
    const work = fastTempDir();
    try {
      const T = path.join(work, 'T');
      template(T, ['p'], 3);
      const outside = path.join(work, 'outside.pyc');
      fs.linkSync(path.join(T, `p/__pycache__/m1.${TAG}.opt-1.pyc`), outside);
      const ino = fs.statSync(outside).ino;
      const r = runCli(['dedup', '--json', T]);
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as { namedOutside?: { count: number; reason: string } };
      assert.equal(report.namedOutside?.count, 1);
      assert.match(report.namedOutside.reason, /outside/);
      assert.equal(fs.statSync(outside).nlink, 2);
      assert.equal(fs.statSync(path.join(T, `p/__pycache__/m1.${TAG}.opt-1.pyc`)).ino, ino);
      // The other modules are linked as usual; the text output names the count and the reason.
      assert.equal(linkGroups(T).length, 2);
      const text = runCli(['dedup', '--dry-run', T]).stdout;
      assert.match(text, /left alone: 1 file: the inode has more names than the given paths hold/);
    } finally {
      removeTree(work);
    }
  });
});
