/**
 * README, apply: "`pyfloppy apply PLAN` again finishes an interrupted run (a different plan rolls the
 * interrupted one back first)". A run of one plan is killed midway (its journal left in the tree); applying
 * another plan of the same original tree first restores the original (every path, inode and byte); the
 * restored files have new ctimes, so that plan is then refused, naming them, and applies once made again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { plan } from '../src/plan/plan.js';
import { BIN, runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { compileAllLevels, cpython, interpreter } from './helpers/python.js';
import { fastTempDir, removeTree, snapshot, writeTree } from './helpers/tree.js';

const py = interpreter('3.13');

describe('apply of a different plan over an interrupted run', () => {
  it('rolls the interrupted plan back first, then applies the new one', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const work = fastTempDir();
    try {
      const root = path.join(work, 'tree');
      const files: Record<string, string> = {};
      for (let m = 0; m < 1500; m++) {
        files[`p${m % 30}/__init__.py`] = '';
        files[`p${m % 30}/m${m}.py`] = `"""Module ${m}."""\nx = ${m}\n`;
      }
      writeTree(root, files);
      compileAllLevels(py, root);
      const original = snapshot(root);
      // Two plans of the original tree: the one that is interrupted, and the one applied after it.
      const first = path.join(work, 'pysources.json');
      const second = path.join(work, 'drop-opt2.json');
      fs.writeFileSync(
        first,
        JSON.stringify(await plan({ strategies: ['pysources'], path: root, workers: 0, python: py.exe })),
      );
      fs.writeFileSync(
        second,
        JSON.stringify(await plan({ strategies: ['drop-opt2'], path: root, workers: 0, python: py.exe })),
      );

      // The first run is killed once its journal holds a few dozen backups (thousands of steps remain).
      const journal = path.join(root, '.pyfloppy-journal');
      const child = spawn(process.execPath, [BIN, 'apply', first], { stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_, signal) => r(signal)));
      const backups = (): number => {
        try {
          return fs.readdirSync(journal).filter((n) => /^\d+$/.test(n)).length;
        } catch {
          return 0;
        }
      };
      for (const until = Date.now() + 60_000; backups() < 30; await new Promise((r) => setTimeout(r, 5)))
        assert.ok(Date.now() < until, 'the first run made no progress within a minute');
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL', 'killed midway, not finished');
      assert.ok(fs.existsSync(journal), 'the interrupted run left its journal');
      const interrupted = snapshot(root);
      assert.ok(
        [...original.keys()].some((rel) => !interrupted.has(rel)),
        'the interrupted run had changed the tree',
      );

      // The other plan: the interrupted run is rolled back first (every path, inode and byte as it was, the
      // journal gone). The files the rollback restored have new ctimes, so the other plan, made before,
      // no longer matches them: it is refused with nothing changed, those files named.
      const r = runCli(['apply', second, '--json']);
      assert.equal(r.status, 1, r.stderr);
      const report = JSON.parse(r.stdout) as {
        outcome: string;
        rolledBackOther: boolean;
        done: number;
        mismatches: Array<{ path: string; why: string }>;
      };
      assert.equal(report.outcome, 'refused');
      assert.equal(report.rolledBackOther, true);
      assert.equal(report.done, 0);
      assert.ok(report.mismatches.length > 0);
      for (const m of report.mismatches) {
        assert.equal(m.why, 'changed (ctime)', m.path);
        assert.notEqual(interrupted.get(m.path)?.ino, original.get(m.path)!.ino, `${m.path} was touched`);
      }
      assert.ok(!fs.existsSync(journal), 'no journal left');
      const restored = snapshot(root);
      assert.deepEqual([...restored.keys()].sort(), [...original.keys()].sort());
      for (const [rel, s] of original) {
        assert.equal(restored.get(rel)!.sha256, s.sha256, rel);
        assert.equal(restored.get(rel)!.ino, s.ino, `${rel}: the original inode`);
      }

      // Planned again on the restored tree, it applies: the original less its level-2 caches.
      fs.writeFileSync(
        second,
        JSON.stringify(await plan({ strategies: ['drop-opt2'], path: root, workers: 0, python: py.exe })),
      );
      const again = runCli(['apply', second]);
      assert.equal(again.status, 0, again.stdout + again.stderr);
      const now = snapshot(root);
      const want = [...original.keys()].filter((rel) => !rel.endsWith('.opt-2.pyc')).sort();
      assert.deepEqual([...now.keys()].sort(), want);
      for (const rel of want) assert.equal(now.get(rel)!.ino, original.get(rel)!.ino, rel);
    } finally {
      removeTree(work);
    }
  });
});
