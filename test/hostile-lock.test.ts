/**
 * One changing run per tree. A run stopped midway (SIGSTOP) holds the tree: a second apply, a rollback of its
 * journal, a commit are refused with exit 2 naming the holder, and change nothing; resumed (SIGCONT), the
 * first run finishes as if alone. A lock left by a process that is gone is stale and taken over.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOCK_FILE } from '../src/fsops/lock.js';
import { plan } from '../src/plan/plan.js';
import { runCli } from './helpers/cli.js';
import { digest, hostileTree, whenAppears } from './helpers/hostile.js';
import { have } from './helpers/need.js';
import { interpreter, cpython } from './helpers/python.js';
import { copyTree, fastTempDir, removeTree, snapshot } from './helpers/tree.js';

const py = interpreter('3.13');

// Copies compared with each other are planned for one place: relocated bytecode names it.
const DEST = '/usr/lib/python3.13';

describe('one run per tree', () => {
  let work = '';
  let template = '';
  let count = 0;
  before(() => {
    if (py === undefined) return;
    work = fastTempDir();
    template = path.join(work, 'template');
    hostileTree(py, template, 400);
  });
  after(() => removeTree(work));

  async function fresh(strategies: string): Promise<{ tree: string; file: string }> {
    const tree = path.join(work, `case${count++}`);
    copyTree(template, tree);
    const file = `${tree}-${strategies}.json`;
    fs.writeFileSync(
      file,
      JSON.stringify(
        await plan({
          strategies: strategies.split(','),
          path: tree,
          workers: 0,
          python: py!.exe,
          dest: DEST,
        }),
      ),
    );
    return { tree, file };
  }

  it('a second run while the first is stopped midway is refused, naming the holder; the first then finishes', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const { tree, file } = await fresh('pysources');
    const other = `${tree}-other.json`;
    fs.writeFileSync(
      other,
      JSON.stringify(await plan({ strategies: ['drop-opt2'], path: tree, workers: 0, python: py.exe })),
    );
    // The reference: the same plan carried out alone on a copy.
    const alone = path.join(work, `case${count++}`);
    copyTree(template, alone);
    const aloneFile = `${alone}.json`;
    fs.writeFileSync(
      aloneFile,
      JSON.stringify(
        await plan({ strategies: ['pysources'], path: alone, workers: 0, python: py.exe, dest: DEST }),
      ),
    );
    assert.equal(runCli(['apply', aloneFile]).status, 0);

    const journal = path.join(tree, '.pyfloppy-journal', 'plan.json');
    const { child, exit } = await whenAppears(['apply', file], journal, (c) => c.kill('SIGSTOP'));
    try {
      const held = digest(tree);
      for (const args of [
        ['apply', other],
        ['apply', file],
        ['apply', '--rollback', tree],
        ['apply', '--commit', tree],
      ]) {
        const r = runCli(args);
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
        assert.match(
          r.stderr,
          new RegExp(
            `^pyfloppy: error: .* is being changed by another run: pyfloppy apply \\(pid ${child.pid},`,
            'm',
          ),
        );
        assert.equal(digest(tree), held, `${args.join(' ')} changed nothing`);
      }
    } finally {
      child.kill('SIGCONT');
    }
    assert.equal(await exit, 0);
    assert.ok(!fs.existsSync(path.join(tree, LOCK_FILE)), 'the lock is released');
    const shape = (d: string): string =>
      JSON.stringify([...snapshot(d)].map(([p, st]) => [p, st.sha256]).sort());
    assert.equal(shape(tree), shape(alone), 'finished as a run alone');
  });

  it('a lock whose process is gone is stale: taken over, and released at the end', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const { tree, file } = await fresh('drop-opt2');
    fs.writeFileSync(
      path.join(tree, LOCK_FILE),
      `${JSON.stringify({ pid: 2 ** 22 + 1, start: '1', command: 'dedup', since: '2026-01-01T00:00:00.000Z' })}\n`,
    );
    const r = runCli(['apply', file]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.ok(!fs.existsSync(path.join(tree, LOCK_FILE)));
  });

  it('a lock held by a live process is respected, whatever command holds it', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const { tree, file } = await fresh('drop-opt2');
    const before = digest(tree);
    fs.writeFileSync(
      path.join(tree, LOCK_FILE),
      `${JSON.stringify({ pid: process.pid, start: null, command: 'dedup', since: '2026-01-01T00:00:00.000Z' })}\n`,
    );
    const r = runCli(['apply', file]);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`being changed by another run: pyfloppy dedup \\(pid ${process.pid},`));
    fs.unlinkSync(path.join(tree, LOCK_FILE));
    assert.equal(digest(tree), before);
  });
});
