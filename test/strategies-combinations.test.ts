/**
 * The named combinations of strategies (py-and-pyc0, drop-opt2+dedup, ...) and their parts, on a copy of a
 * real stdlib: what `analyze` reports each would save is what `plan` says its operations save, to the byte,
 * apparent and allocated. Both go through the same layouts and the same accounting (bytesFreed): this test
 * catches an estimate or a composition that drifts from the plan.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyze } from '../src/analyze.js';
import { plan } from '../src/plan/plan.js';
import type { AnalyzeReport } from '../src/report/analyze-report.js';
import { STRATEGIES } from '../src/strategies/catalog.js';
import { have } from './helpers/need.js';
import { cpython, interpreter, stdlibOf } from './helpers/python.js';
import { copyTree, fastTempDir, removeTree } from './helpers/tree.js';

/** Left out of the copy to keep the scans short; what is left still has caches at every level. */
const LEAVE_OUT = ['test', 'idlelib', 'tkinter', 'turtledemo', 'lib2to3', 'site-packages', 'ensurepip'];

const COMBINATIONS = STRATEGIES.filter((s) => s.kind === 'parts');
const PARTS = [...new Set(COMBINATIONS.flatMap((s) => (s.kind === 'parts' ? s.parts : [])))];

const VERSION = '3.13';

describe(`analyze's estimate = plan's saved for the combinations, on a copy of the ${VERSION} stdlib`, () => {
  const py = interpreter(VERSION);
  let work = '';
  let root = '';
  let report: AnalyzeReport;
  before(async () => {
    if (py === undefined) return;
    work = fastTempDir();
    root = path.join(work, 'lib', `python${VERSION}`);
    fs.mkdirSync(path.dirname(root), { recursive: true });
    copyTree(stdlibOf(py), root, {
      exclude: [...LEAVE_OUT, ...fs.readdirSync(stdlibOf(py)).filter((n) => n.startsWith('config-'))],
    });
    report = await analyze({ paths: [root], workers: 0 });
  });
  after(() => removeTree(work));

  it('the catalog has combinations, each of carried parts', () => {
    assert.ok(COMBINATIONS.length >= 3, COMBINATIONS.map((s) => s.id).join(', '));
    assert.ok(PARTS.includes('dedup') && PARTS.includes('drop-opt2'), PARTS.join(', '));
  });

  for (const id of [...COMBINATIONS.map((s) => s.id), ...PARTS]) {
    it(`${id}: saved as analyze estimates it`, async (t) => {
      if (!have(t, py, cpython(VERSION))) return;
      const estimated = report.strategies.find((s) => s.id === id);
      assert.ok(estimated !== undefined, `analyze reports ${id}`);
      const p = await plan({ strategies: [id], path: root, workers: 0, python: py.exe });
      assert.ok(p.operations.length > 0, `${id} has something to do on the ${VERSION} stdlib`);
      assert.deepEqual(p.saved, estimated.saved, `${id}: planned = analyze's estimate`);
      // opt-fallback alone only adds: its markers and the runtime that reads them.
      if (id === 'opt-fallback') assert.ok(p.saved.apparentBytes < 0, 'opt-fallback costs bytes');
      else assert.ok(p.saved.allocatedBytes > 0);
    });
  }

  it('the parts requested together save what their combination is estimated to save', async (t) => {
    if (!have(t, py, cpython(VERSION))) return;
    for (const s of COMBINATIONS) {
      if (s.kind !== 'parts' || s.parts.length < 2) continue;
      const p = await plan({ strategies: s.parts, path: root, workers: 0, python: py.exe });
      const estimated = report.strategies.find((x) => x.id === s.id)!;
      assert.deepEqual(p.saved, estimated.saved, `${s.parts.join(',')} = ${s.id}`);
    }
  });
});
