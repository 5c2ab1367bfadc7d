/**
 * `apply` and `apply --rollback` against a tree whose directory is swapped for a symlink to a directory outside
 * it: during a run, after a killed run, and a journal that is itself a symlink. Whatever the swap, nothing
 * outside the tree changes (digested at the swap and after), and once the directory is back the tree can
 * still be rolled back to its original paths, inodes and bytes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apply, rollback } from '../src/apply/apply.js';
import { type Plan, plan, relPaths } from '../src/plan/plan.js';
import { runCli } from './helpers/cli.js';
import { digest, hostileTree, swapForSymlink, unswap, whenAppears } from './helpers/hostile.js';
import { have } from './helpers/need.js';
import { interpreter, cpython } from './helpers/python.js';
import { copyTree, fastTempDir, removeTree, snapshot, writeTree } from './helpers/tree.js';

const py = interpreter('3.13');

describe('apply against a directory swapped for a symlink', () => {
  let work = '';
  let template = '';
  let big = '';
  let count = 0;
  before(() => {
    if (py === undefined) return;
    work = fastTempDir();
    template = path.join(work, 'template');
    hostileTree(py, template);
    big = path.join(work, 'big');
    hostileTree(py, big, 800);
  });
  after(() => removeTree(work));

  /** A fresh copy of a template at NAME/lib/python3.13, its plan saved beside it. */
  async function fresh(
    strategies: string,
    from = template,
  ): Promise<{ tree: string; file: string; p: Plan; outside: string }> {
    const base = path.join(work, `case${count++}`);
    const tree = path.join(base, 'lib', 'python3.13');
    fs.mkdirSync(path.dirname(tree), { recursive: true });
    copyTree(from, tree);
    const p = await plan({ strategies: strategies.split(','), path: tree, workers: 0, python: py!.exe });
    const file = path.join(base, 'plan.json');
    fs.writeFileSync(file, JSON.stringify(p));
    return { tree, file, p, outside: path.join(base, 'outside') };
  }

  /** The first operation that names a path in json/. */
  function firstJson(p: Plan): number {
    const n = p.operations.findIndex((o) => relPaths(o).some((r) => r.startsWith('json/')));
    assert.ok(n >= 0, 'the plan touches json/');
    return n;
  }

  for (const how of ['moved', 'decoy'] as const) {
    it(`during a run (${how}): the next step in it refuses, rollback leaves it alone, nothing outside changes`, async (t) => {
      if (!have(t, py, cpython('3.13'))) return;
      const { tree, file, p, outside } = await fresh('pysources');
      const original = digest(tree);
      const swapAt = firstJson(p) + 1;
      let outsideDirs: string[] = [];
      let atSwap: string[] = [];
      const r = await apply({
        planFile: file,
        onStep: (done) => {
          if (done !== swapAt) return;
          outsideDirs = swapForSymlink(tree, 'json', outside, how);
          atSwap = outsideDirs.map(digest);
        },
      });
      assert.ok(outsideDirs.length > 0, 'the swap happened');
      assert.equal(r.outcome, 'rolled-back');
      assert.match(r.failure ?? '', /json.*symlink/);
      assert.ok(
        r.rollback!.conflicts.some((c) => c.startsWith('json/') && /symlink/.test(c)),
        r.rollback!.conflicts.join('\n'),
      );
      assert.deepEqual(outsideDirs.map(digest), atSwap, 'nothing outside the tree changed');
      // The journal is kept; with the directory back, a rollback restores everything.
      assert.ok(fs.existsSync(path.join(tree, '.pyfloppy-journal')));
      unswap(tree, 'json', outside);
      const rb = await rollback(tree);
      assert.deepEqual(rb.conflicts, []);
      assert.equal(digest(tree), original, 'every path, inode and byte as before');
    });
  }

  it('after a killed run: resume and --rollback refuse through the symlink; once it is gone, rollback restores all', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const { tree, file, outside } = await fresh('pysources', big);
    const original = digest(tree);
    const journal = path.join(tree, '.pyfloppy-journal');
    // Killed 20 ms after its plan is journaled: among its thousands of operations, not before them.
    const { exit } = await whenAppears(['apply', file], path.join(journal, 'plan.json'), (child) =>
      setTimeout(() => child.kill('SIGKILL'), 20),
    );
    assert.equal(await exit, null, 'killed');
    assert.ok(fs.existsSync(journal), 'killed midway, the journal is there');
    const [moved] = swapForSymlink(tree, 'json', outside, 'moved');
    const atSwap = digest(moved!);
    for (const args of [
      ['apply', '--rollback', file],
      ['apply', '--rollback', tree],
      ['apply', file],
    ]) {
      const r = runCli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^pyfloppy: error: .*json is a symlink now/m);
      assert.equal(digest(moved!), atSwap, `${args.join(' ')}: nothing outside the tree changed`);
    }
    unswap(tree, 'json', outside);
    const rb = runCli(['apply', '--rollback', file]);
    assert.equal(rb.status, 0, rb.stdout + rb.stderr);
    assert.equal(digest(tree), original);
  });

  it('a plan over more directories than the anchor keeps open: every step acts in its own directory', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    // Why: a directory closed to make room frees its descriptor number for the next one opened; a name of it
    // still held (the journal's) then led into another directory. 4,200 packages: 8,400 directories.
    const base = path.join(work, `case${count++}`);
    const tree = path.join(base, 'tree');
    const files: Record<string, string> = {};
    for (let m = 0; m < 4200; m++) {
      files[`p${m}/m.py`] = `x = ${m}\n`;
      files[`p${m}/__pycache__/m.cpython-313.opt-2.pyc`] = `level 2 of ${m}`;
    }
    writeTree(tree, files);
    const p = await plan({ strategies: ['drop-opt2'], path: tree, workers: 0, python: py.exe });
    assert.equal(p.operations.filter((o) => o.op === 'remove').length, 4200);
    const file = path.join(base, 'plan.json');
    fs.writeFileSync(file, JSON.stringify(p));
    const r = await apply({ planFile: file });
    assert.equal(r.outcome, 'applied', r.failure);
    const left = [...snapshot(tree).keys()].sort();
    assert.deepEqual(
      left,
      Object.keys(files)
        .filter((f) => f.endsWith('.py'))
        .sort(),
    );
  });

  it('a journal that is a symlink out of the tree is refused by rollback, commit and apply, its target untouched', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const { tree, file, outside } = await fresh('pysources');
    const victim = path.join(outside, 'victim');
    fs.mkdirSync(victim, { recursive: true });
    fs.writeFileSync(path.join(victim, 'plan.json'), fs.readFileSync(file));
    fs.writeFileSync(path.join(victim, '0'), 'precious');
    fs.writeFileSync(path.join(victim, 'complete'), '');
    fs.symlinkSync(victim, path.join(tree, '.pyfloppy-journal'));
    const before = digest(victim);
    const treeBefore = digest(tree);
    for (const args of [
      ['apply', '--rollback', tree],
      ['apply', '--commit', tree],
      ['apply', file],
    ]) {
      const r = runCli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^pyfloppy: error: .*\.pyfloppy-journal is a symlink now/m);
      assert.equal(digest(victim), before, args.join(' '));
      assert.equal(digest(tree), treeBefore, args.join(' '));
    }
  });
});
