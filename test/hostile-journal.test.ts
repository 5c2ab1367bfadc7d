/**
 * A journal proves itself before it is trusted. Each tampering of a journal left by a finished (--no-commit)
 * or crashed run is refused by `apply --rollback`, `apply --commit` and `apply PLAN` with one error line,
 * exit 2, and nothing changed: not the tree, not the journal. The same journals untampered are rolled back
 * exactly, so the refusals are not a journal refused whatever it holds.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apply } from '../src/apply/apply.js';
import { plan } from '../src/plan/plan.js';
import { runCli } from './helpers/cli.js';
import { digest, hostileTree } from './helpers/hostile.js';
import { have } from './helpers/need.js';
import { interpreter, cpython } from './helpers/python.js';
import { copyTree, fastTempDir, removeTree } from './helpers/tree.js';

const py = interpreter('3.13');
const JOURNAL = '.pyfloppy-journal';

interface Case {
  tree: string;
  file: string;
  journal: string;
  original: string;
}

describe('a tampered journal is refused, nothing changed', () => {
  let work = '';
  let template = '';
  let count = 0;
  before(() => {
    if (py === undefined) return;
    work = fastTempDir();
    template = path.join(work, 'template');
    hostileTree(py, template);
  });
  after(() => removeTree(work));

  /**
   * A copy of the template with a journal: 'finished' (apply --no-commit) or 'crashed' (the run stopped by an
   * exception after half of its operations, as a kill would leave it).
   */
  async function journaled(how: 'finished' | 'crashed', strategies = 'pysources'): Promise<Case> {
    const tree = path.join(work, `case${count++}`);
    copyTree(template, tree);
    const original = digest(tree);
    const p = await plan({ strategies: strategies.split(','), path: tree, workers: 0, python: py!.exe });
    const file = `${tree}.json`;
    fs.writeFileSync(file, JSON.stringify(p));
    const half = Math.floor(p.operations.length / 2);
    const run = apply({
      planFile: file,
      commit: false,
      onStep: (done) => {
        if (how === 'crashed' && done === half) throw new Error('crash');
      },
    });
    if (how === 'crashed') await assert.rejects(run, /crash/);
    else assert.equal((await run).outcome, 'applied');
    return { tree, file, journal: path.join(tree, JOURNAL), original };
  }

  /** Every command that reads the journal refuses it; tree and journal are as they were. */
  function refusedByAll(c: Case, why: RegExp): void {
    const before = digest(c.tree);
    for (const args of [
      ['apply', '--rollback', c.file],
      ['apply', '--rollback', c.tree],
      ['apply', '--commit', c.tree],
      ['apply', c.file],
    ]) {
      const r = runCli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^pyfloppy: error: /);
      assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('pyfloppy: error:')).length, 1);
      assert.match(r.stderr, why, args.join(' '));
      assert.equal(digest(c.tree), before, `${args.join(' ')} changed nothing`);
    }
  }

  /** The index of a backup the journal holds (a file named by a number). */
  function aBackup(c: Case): string {
    const name = fs
      .readdirSync(c.journal)
      .find((n) => /^\d+$/.test(n) && fs.lstatSync(path.join(c.journal, n)).isFile());
    assert.ok(name !== undefined, 'the journal holds a backup');
    return path.join(c.journal, name);
  }

  for (const how of ['finished', 'crashed'] as const) {
    it(`untampered (${how}): rolled back to every original path, inode and byte`, async (t) => {
      if (!have(t, py, cpython('3.13'))) return;
      const c = await journaled(how);
      const r = runCli(['apply', '--rollback', c.file]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(digest(c.tree), c.original);
    });
  }

  it('plan.json missing', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const c = await journaled('crashed');
    fs.unlinkSync(path.join(c.journal, 'plan.json'));
    refusedByAll(c, /cannot be trusted: it has no plan\.json/);
  });

  it('plan.json empty', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const c = await journaled('finished');
    fs.writeFileSync(path.join(c.journal, 'plan.json'), '');
    refusedByAll(c, /cannot be trusted: it has no plan\.json/);
  });

  it('plan.json of another plan of the same tree', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const c = await journaled('crashed');
    const other = await plan({ strategies: ['drop-opt2'], path: c.tree, workers: 0, python: py.exe });
    fs.writeFileSync(path.join(c.journal, 'plan.json'), JSON.stringify(other));
    refusedByAll(c, /cannot be trusted: (step \d+ |it holds \d+)/);
  });

  it('a backup deleted', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const c = await journaled('crashed');
    fs.unlinkSync(aBackup(c));
    refusedByAll(c, /cannot be trusted: step \d+ .*its backup is not in the journal/);
  });

  it('a backup overwritten in place, or replaced by another file', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const c = await journaled('finished');
    const b = aBackup(c);
    fs.appendFileSync(b, 'tampered');
    refusedByAll(c, /cannot be trusted: step \d+ .*its backup in the journal was modified/);
    const d = await journaled('finished');
    const b2 = aBackup(d);
    const data = fs.readFileSync(b2);
    fs.unlinkSync(b2);
    fs.writeFileSync(b2, data);
    refusedByAll(d, /cannot be trusted: step \d+ .*its backup in the journal was replaced by another file/);
  });

  it('a forged complete or committing marker on a half-applied tree', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    for (const marker of ['complete', 'committing']) {
      const c = await journaled('crashed');
      fs.writeFileSync(path.join(c.journal, marker), '');
      refusedByAll(c, /cannot be trusted: step \d+ .*not done, although the journal says the run finished/);
    }
  });

  it('a name planted in the journal', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const c = await journaled('finished');
    fs.writeFileSync(path.join(c.journal, 'evil.sh'), '#!/bin/sh\n');
    refusedByAll(c, /cannot be trusted: it holds evil\.sh/);
  });

  it('a journal killed before its plan was in place holds nothing and is removed', (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const tree = path.join(work, `case${count++}`);
    copyTree(template, tree);
    const original = digest(tree);
    fs.mkdirSync(path.join(tree, JOURNAL));
    fs.writeFileSync(path.join(tree, JOURNAL, 'plan.json.tmp'), '{"partial":');
    const r = runCli(['apply', '--rollback', tree]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(digest(tree), original);
  });

  it('a journal killed before its plan was in place: apply removes it and runs, in one process', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    // Why in one process: the anchor had kept the removed journal open, and took the new one for a
    // replaced directory ("was replaced by another directory").
    const tree = path.join(work, `case${count++}`);
    copyTree(template, tree);
    const file = `${tree}.json`;
    fs.writeFileSync(
      file,
      JSON.stringify(await plan({ strategies: ['pysources'], path: tree, workers: 0, python: py.exe })),
    );
    fs.mkdirSync(path.join(tree, JOURNAL));
    fs.writeFileSync(path.join(tree, JOURNAL, 'plan.json.tmp'), '{"partial":');
    const r = runCli(['apply', file]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.ok(!fs.existsSync(path.join(tree, JOURNAL)));
  });
});
