/**
 * compile against a hostile tree (issue 19): a package directory swapped for a symlink while `compile -f`
 * runs (to a decoy outside, the real directory moved outside) and after a killed run; a second run while one
 * holds the tree; the partial caches a killed compile leaves, removed by the next compile and reported by
 * check. Directories outside the tree are digested (paths, SHA-256, inode, link count) before and after.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { compile, type CompileOptions } from '../src/compile/compile.js';
import { lockTree } from '../src/fsops/lock.js';
import { BIN, runCli } from './helpers/cli.js';
import { deadPid, digest, swap, waitFor } from './helpers/hostile.js';
import { have } from './helpers/need.js';
import { modernPython, cpython } from './helpers/python.js';
import { copyTree, fastTempDir, removeTree, snapshot, writeTree } from './helpers/tree.js';

const py = modernPython(8);

function sources(root: string, dirs: string[], modules: number): void {
  const files: Record<string, string> = {};
  for (const dir of dirs) {
    for (let m = 0; m < modules; m++)
      files[`${dir}/m${m}.py`] =
        `"""Module ${m}."""\nassert ${m} >= 0\nVALUE = ${JSON.stringify('x'.repeat(m))}\n`;
  }
  writeTree(root, files);
}

interface CheckJson {
  findings: Array<{ id: string; path: string }>;
}

describe('compile against a hostile tree', () => {
  it('compile -f: a package moved out mid-run, a symlink to a decoy in its place: nothing outside changes', async (t) => {
    if (!have(t, py, cpython('3.8 or later'))) return;
    const work = fastTempDir();
    try {
      const T = path.join(work, 'T');
      sources(T, ['email', 'json'], 5);
      assert.equal((await compile({ paths: [T], python: py.exe, levels: [0, 1, 2] })).errors.length, 0);
      const decoy = path.join(work, 'decoy');
      copyTree(path.join(T, 'json'), decoy);
      const moved = path.join(work, 'json-moved');
      const decoyBefore = digest(decoy);
      let movedBefore = '';
      const options = {
        paths: [T],
        python: py.exe,
        levels: [0, 1, 2],
        force: true,
        // Why at the first json source: the caches of email are placed before, those of json after the swap.
        beforePlace: (source: string) => {
          if (movedBefore !== '' || !source.includes('/json/')) return;
          swap(path.join(T, 'json'), moved, decoy);
          movedBefore = digest(moved);
        },
      } as CompileOptions;
      const report = await compile(options);
      assert.notEqual(movedBefore, '', 'the swap never happened');
      assert.equal(digest(decoy), decoyBefore, 'the decoy was rewritten');
      assert.equal(digest(moved), movedBefore, 'the moved-out directory was rewritten');
      assert.equal(report.errors.length, 5, JSON.stringify(report.errors));
      for (const e of report.errors) assert.match(e.message, /refused: .*json is a symlink now/);
      assert.equal(report.compiled, 5);
    } finally {
      removeTree(work);
    }
  });

  it('after a killed run: leftovers reported by check, removed by the next compile, never outside the tree', async (t) => {
    if (!have(t, py, cpython('3.8 or later'))) return;
    const work = fastTempDir();
    try {
      const T = path.join(work, 'T');
      sources(T, ['email', 'json', 'p1', 'p2', 'p3'], 120);
      const args = ['compile', '-q', '-f', '-o0', '-o1', '-o2', '--python', py.exe, T];
      const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
      await waitFor(() => fs.existsSync(path.join(T, 'p1', '__pycache__')), 20_000);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, 300));
      // What a killed compile leaves (a partial cache), planted so that the test does not depend on timing;
      // one of a live process (this one) and a directory of that form are not leftovers.
      const dead = deadPid();
      const partial = Buffer.alloc(131_072, 7);
      writeTree(T, {
        [`email/__pycache__/.pyfloppy-${dead}-0-c3.tmp`]: partial,
        [`p1/__pycache__/.pyfloppy-${dead}-7.tmp`]: partial,
        [`json/__pycache__/.pyfloppy-${dead}-0-c4.tmp`]: partial,
        [`p2/__pycache__/.pyfloppy-${process.pid}-0-c5.tmp`]: partial,
      });
      fs.mkdirSync(path.join(T, `p3/__pycache__/.pyfloppy-${dead}-0-c6.tmp`), { recursive: true });
      const check = runCli(['check', '--json', '--python', py.exe, T]);
      const found = (JSON.parse(check.stdout) as CheckJson).findings.filter(
        (f) => f.id === 'leftover-temporary',
      );
      assert.ok(
        found.some((f) => f.path.endsWith(`email/__pycache__/.pyfloppy-${dead}-0-c3.tmp`)),
        check.stdout,
      );
      assert.ok(!found.some((f) => f.path.includes(`.pyfloppy-${process.pid}-`)));

      const moved = path.join(work, 'json-moved');
      swap(path.join(T, 'json'), moved);
      const before = digest(moved);
      const r = runCli([...args.slice(0, 1), '--json', ...args.slice(2)]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(digest(moved), before, 'the moved-out directory was changed');
      const report = JSON.parse(r.stdout) as { leftoversRemoved?: string[]; compiled: number };
      assert.equal(report.compiled, 4 * 120);
      const left = [...snapshot(T).keys()].filter((rel) => path.basename(rel).startsWith('.pyfloppy-'));
      assert.deepEqual(left, [`p2/__pycache__/.pyfloppy-${process.pid}-0-c5.tmp`]);
      assert.ok(fs.statSync(path.join(T, `p3/__pycache__/.pyfloppy-${dead}-0-c6.tmp`)).isDirectory());
      assert.ok((report.leftoversRemoved ?? []).length >= 2);
      const again = runCli(['check', '--json', '--python', py.exe, T]);
      const still = (JSON.parse(again.stdout) as CheckJson).findings.filter(
        (f) => f.id === 'leftover-temporary',
      );
      assert.deepEqual(still, []);
    } finally {
      removeTree(work);
    }
  });

  it('a second run while the tree is held is refused with one error line naming the holder', (t) => {
    if (!have(t, py, cpython('3.8 or later'))) return;
    const work = fastTempDir();
    try {
      const T = path.join(work, 'T');
      sources(T, ['p'], 2);
      const lock = lockTree(T, 'dedup');
      try {
        const r = runCli(['compile', '--python', py.exe, T]);
        assert.equal(r.status, 2, r.stdout);
        assert.match(r.stderr, /^pyfloppy: error: .* being changed by another run: pyfloppy dedup \(pid \d+/);
        assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('pyfloppy: error:')).length, 1);
        assert.equal(fs.existsSync(path.join(T, 'p', '__pycache__')), false);
      } finally {
        lock.release();
      }
      assert.equal(runCli(['compile', '-q', '--python', py.exe, T]).status, 0);
      assert.equal(fs.existsSync(path.join(T, '.pyfloppy-lock')), false);
    } finally {
      removeTree(work);
    }
  });
});
