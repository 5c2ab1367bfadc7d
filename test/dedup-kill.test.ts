/**
 * Crash safety of dedup: killed with SIGKILL at random moments, every path still holds its original
 * content; the only extra names are pyfloppy's temporaries (other names of unchanged files); the next run
 * removes them and finishes the job.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LOCK_FILE } from '../src/fsops/lock.js';
import { ANY_TEMP_NAME } from '../src/fsops/temp.js';
import { BIN, runCli } from './helpers/cli.js';
import { copyTree, fastTempDir, linkGroups, removeTree, snapshot, writeTree } from './helpers/tree.js';

const TAG = 'cpython-313';
const ROUNDS = 12;

function template(root: string): void {
  const files: Record<string, string> = {};
  for (let m = 0; m < 1500; m++) {
    const dir = `p${m % 30}`;
    const body = `module ${m} `.repeat(150);
    files[`${dir}/m${m}.py`] = `x = ${m}\n`;
    files[`${dir}/__pycache__/m${m}.${TAG}.pyc`] = m % 5 === 0 ? `${body} with docstring` : body;
    files[`${dir}/__pycache__/m${m}.${TAG}.opt-1.pyc`] = body;
    files[`${dir}/__pycache__/m${m}.${TAG}.opt-2.pyc`] = body;
  }
  writeTree(root, files);
}

function killAfter(tree: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'dedup', tree], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('dedup killed with SIGKILL', () => {
  it(`at ${ROUNDS} random moments: no path ever loses its content, and the next run completes`, async () => {
    const work = fastTempDir();
    try {
      const tpl = path.join(work, 'template');
      template(tpl);
      const original = snapshot(tpl);
      // How long an uninterrupted run takes: kills are spread over that span.
      const probe = path.join(work, 'probe');
      copyTree(tpl, probe);
      const t0 = Date.now();
      assert.equal(runCli(['dedup', probe]).status, 0);
      const span = Date.now() - t0;
      const expected = linkGroups(probe);
      // compileall's rule on the template's own bytes (not pyfloppy's run): each level linked to the one
      // below when identical. Level 0 differs where the template gave it a docstring (every fifth module).
      const rule: string[][] = [];
      for (let m = 0; m < 1500; m++) {
        const c = (level: string) => `p${m % 30}/__pycache__/m${m}.${TAG}${level}.pyc`;
        rule.push(m % 5 === 0 ? [c('.opt-1'), c('.opt-2')] : [c('.opt-1'), c('.opt-2'), c('')]);
      }
      assert.deepEqual(
        expected,
        rule.sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
      );
      let interruptedMidway = 0;
      // The window in which kills land among the links: a kill that came before any link raises its lower
      // end, one that came after the last lowers its upper end, so that under a loaded machine (where start-up
      // and scan take most of the run) the random kills still converge on the linking.
      let lo = 0;
      let hi = Math.ceil(span * 1.5);
      for (let round = 0; round < ROUNDS; round++) {
        const tree = path.join(work, `round${round}`);
        copyTree(tpl, tree);
        const ms = lo + Math.floor(Math.random() * Math.max(1, hi - lo));
        await killAfter(tree, ms);
        const after = snapshot(tree);
        for (const [rel, state] of original) {
          assert.equal(after.get(rel)?.sha256, state.sha256, `round ${round}: ${rel}`);
        }
        // Besides temporaries, the killed run's tree lock (the next run takes it over: its pid is gone).
        const extra = [...after.keys()].filter((rel) => !original.has(rel) && rel !== LOCK_FILE);
        for (const rel of extra)
          assert.match(path.basename(rel), ANY_TEMP_NAME, `round ${round}: unexpected ${rel}`);
        const linked = linkGroups(tree, (rel) => original.has(rel)).length;
        if (linked > 0 && linked < expected.length) interruptedMidway++;
        else if (linked === 0) lo = Math.max(lo, ms);
        else hi = Math.min(hi, ms);
        // The next run cleans up and finishes.
        const r = runCli(['dedup', tree, '--json']);
        assert.equal(r.status, 0, r.stderr);
        const report = JSON.parse(r.stdout) as { leftoversRemoved: string[] };
        assert.equal(report.leftoversRemoved.length, extra.length);
        assert.deepEqual(linkGroups(tree), expected);
        const final = snapshot(tree);
        assert.equal(final.size, original.size);
        for (const [rel, state] of original) assert.equal(final.get(rel)?.sha256, state.sha256);
        removeTree(tree);
      }
      // The kills did land while links were being made, not only before or after.
      assert.ok(interruptedMidway > 0, 'no round was killed midway; the test proves nothing');
    } finally {
      removeTree(work);
    }
  });
});
