/**
 * `pyfloppy fit`: the least risky set of strategies under a budget, checked against the real thing. A
 * site-packages-shaped tree (packages of the 3.13 stdlib copied in, test packages among them, compiled at
 * levels 0-2 by CPython): the chosen plan applied lands under the budget by `du --apparent-size`; no set
 * with fewer constraints fits (each planned on its own copy); the zip measure is within 2 % of the zip
 * CPython's zipfile writes; an unreachable budget is exit 1 with how far off the closest set stays.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseSize } from '../src/cli/fit.js';
import { constraintsOf, enumerateCandidates, fit, type FitReport } from '../src/fit/fit.js';
import { plan } from '../src/plan/plan.js';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { compileAllLevels, cpython, interpreter } from './helpers/python.js';
import { copyTree, duBytes, fastTempDir, removeTree } from './helpers/tree.js';

const py = interpreter('3.13');
const PACKAGES = ['json', 'email', 'unittest', 'http', 'xml', 'importlib'];

describe('fit: parsing a budget and ranking risks', () => {
  it('reads sizes with SI and binary units, and refuses others', () => {
    assert.equal(parseSize('262144000'), 262_144_000);
    assert.equal(parseSize('250MB'), 250_000_000);
    assert.equal(parseSize('250 MiB'), 262_144_000);
    assert.equal(parseSize('1.5gb'), 1_500_000_000);
    for (const bad of ['', 'abc', '10 parsecs', '0', '-5MB']) assert.throws(() => parseSize(bad), bad);
  });

  it("counts a set's constraints as the catalog's combinations declare them", () => {
    assert.deepEqual(constraintsOf([]), []);
    assert.deepEqual(constraintsOf(['dedup']), []);
    assert.deepEqual(constraintsOf(['drop-opt2', 'dedup']), [1]);
    assert.deepEqual(constraintsOf(['sourceless', 'dedup']), [1, 2]);
    // The fallback takes back drop-optimized's risk to the distribution's users (2), adding upstream's (5).
    assert.deepEqual(constraintsOf(['drop-optimized']), [1, 2]);
    assert.deepEqual(constraintsOf(['drop-optimized', 'opt-fallback']), [1, 5]);
    assert.deepEqual(constraintsOf(['drop-optimized', 'opt-fallback', 'dedup']), [1, 5]);
    assert.deepEqual(constraintsOf(['strip-tests', 'pysources']), [1, 2, 5]);
  });

  it('enumerates only sets plan can carry out together, fewest constraints first', () => {
    const all = enumerateCandidates();
    const has = (ids: string[]): boolean => all.some((c) => c.ids.join() === ids.join());
    assert.ok(has([]) && has(['dedup']) && has(['strip-tests', 'sourceless', 'dedup']));
    assert.ok(!has(['sourceless', 'pysources']), 'conflicting');
    assert.ok(!has(['zip-data', 'zip-stdlib']), 'zip-stdlib does what zip-data does');
    const counts = all.map((c) => c.constraints.length);
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => a - b),
    );
  });
});

describe('fit on a tree', () => {
  let work = '';
  let template = '';
  let size = 0;
  let count = 0;
  before(() => {
    if (py === undefined) return;
    work = fastTempDir();
    template = path.join(work, 'template');
    const lib = path.join(path.dirname(path.dirname(py.exe)), 'lib', 'python3.13');
    for (const p of [...PACKAGES, 'test/test_json']) {
      fs.mkdirSync(path.dirname(path.join(template, p)), { recursive: true });
      copyTree(path.join(lib, p), path.join(template, p));
    }
    compileAllLevels(py, template);
    size = duBytes(template).apparent;
  });
  after(() => removeTree(work));

  const fresh = (): string => {
    const tree = path.join(work, `t${count++}`);
    copyTree(template, tree);
    return tree;
  };

  it('a budget the tree meets already: exit 0, nothing planned, no file written', (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const tree = fresh();
    const out = path.join(work, 'none.json');
    const r = runCli(['fit', '--budget', String(size), tree, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /fits already: no strategy is needed/);
    assert.match(r.stdout, /nothing to plan: .*none\.json was not written/);
    assert.ok(!fs.existsSync(out));
  });

  it('the plan it writes, applied, lands under the budget, and no less risky set fits', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const tree = fresh();
    const budget = Math.floor(size * 0.6);
    const out = path.join(work, 'fit.json');
    const r = runCli(['fit', '--budget', String(budget), tree, '-o', out, '--json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as FitReport;
    assert.equal(report.size, size, "the tree's size is du's");
    assert.ok(report.chosen !== null && report.chosen.strategies.length > 0);
    const applied = runCli(['apply', out]);
    assert.equal(applied.status, 0, applied.stdout + applied.stderr);
    const after = duBytes(tree).apparent;
    assert.ok(after <= budget, `${after} <= ${budget}`);
    // Why not equal: a directory's own size may shrink as its entries go (tmpfs counts them); fit keeps it.
    const slack = report.chosen.size - after;
    assert.ok(slack >= 0 && slack < size * 0.005, `fit said ${report.chosen.size}, du says ${after}`);
    await noLessRiskyFits(report, budget);
  });

  /** Every set with fewer constraints than the chosen one, planned on a copy of its own, stays over budget. */
  async function noLessRiskyFits(report: FitReport, budget: number): Promise<void> {
    const fewer = enumerateCandidates().filter(
      (c) => c.constraints.length < report.chosen!.constraints.length,
    );
    assert.ok(fewer.length > 0);
    for (const c of fewer) {
      if (c.ids.length === 0) continue;
      const p = await plan({ strategies: c.ids, path: fresh(), workers: 0, python: py!.exe });
      const left = size - p.saved.apparentBytes;
      assert.ok(left > budget, `${c.ids.join()} leaves ${left}, over ${budget}`);
    }
  }

  it('an unreachable budget: exit 1, naming the closest set and how far over it stays', (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const tree = fresh();
    const r = runCli(['fit', '--budget', '1000', tree]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stdout,
      /no set of strategies fits: the closest, [a-z0-9+,-]+, leaves .*, .* over the budget/,
    );
    const j = runCli(['fit', '--budget', '1000', tree, '--json']);
    const report = JSON.parse(j.stdout) as FitReport;
    assert.equal(report.fits, false);
    assert.equal(report.over, report.closest.size - 1000);
    assert.ok(report.closest.size < size);
  });

  it('--compressed measures the zip CPython writes of the tree within 2 %, and fits it', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const tree = fresh();
    const zipNow = zipOf(tree, path.join(work, `z${count}.zip`));
    const now = await fit({ path: tree, budget: Math.ceil(zipNow * 1.02), compressed: true, workers: 0 });
    // Why not to the byte: Node's zlib (Chromium's) and CPython's system zlib deflate to different lengths.
    assert.ok(Math.abs(now.size - zipNow) < zipNow * 0.02, `${now.size} ~ ${zipNow}`);
    assert.equal(now.chosen?.strategies.length, 0);
    const budget = Math.floor(zipNow * 0.8);
    const out = path.join(work, 'zfit.json');
    const r = runCli(['fit', '--budget', String(budget), '--compressed', tree, '-o', out, '--json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as FitReport;
    const applied = runCli(['apply', out]);
    assert.equal(applied.status, 0, applied.stdout + applied.stderr);
    const zipAfter = zipOf(tree, path.join(work, `z${count}-after.zip`));
    assert.ok(zipAfter <= budget, `${zipAfter} <= ${budget}`);
    assert.ok(
      Math.abs(report.chosen!.size - zipAfter) < zipAfter * 0.02,
      `${report.chosen!.size} ~ ${zipAfter}`,
    );
  });

  it('a zip bundle: fit reads it without unpacking; its choice, planned on the unpacked files, fits', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const bundle = path.join(work, 'bundle.zip');
    zipOf(template, bundle);
    const fileBytes = (dir: string): number =>
      fs
        .readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
    const budget = Math.floor(fileBytes(template) * 0.6);
    const r = runCli(['fit', '--budget', String(budget), bundle, '--json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as FitReport;
    assert.equal(report.target, 'zip');
    assert.equal(report.size, fileBytes(template), 'the bundle unzipped, in apparent bytes');
    assert.ok(report.chosen !== null && report.chosen.strategies.length > 0);
    // Unpacked, planned and applied as the text report says: under the budget.
    const dir = path.join(work, 'unzipped');
    execFileSync(py.exe, ['-m', 'zipfile', '-e', bundle, dir]);
    const p = await plan({ strategies: report.chosen.strategies, path: dir, workers: 0, python: py.exe });
    const file = path.join(work, 'bundle-plan.json');
    fs.writeFileSync(file, JSON.stringify(p));
    assert.equal(runCli(['apply', file]).status, 0);
    assert.ok(fileBytes(dir) <= budget, `${fileBytes(dir)} <= ${budget}`);
    const refused = runCli(['fit', '--budget', String(budget), bundle, '-o', path.join(work, 'no.json')]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /^pyfloppy: error: a plan needs the files on disk, and .* is a zip$/m);
    assert.ok(!fs.existsSync(path.join(work, 'no.json')));
  });

  /** The size of a zip of every file of `tree` (deflate level 6), as CPython's zipfile writes it. */
  function zipOf(tree: string, out: string): number {
    const script = [
      'import os, sys, zipfile',
      'root, out = sys.argv[1], sys.argv[2]',
      "with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED, compresslevel=6) as z:",
      '    for d, dirs, files in os.walk(root):',
      '        for f in files:',
      '            p = os.path.join(d, f)',
      '            z.write(p, os.path.relpath(p, root))',
      'print(os.path.getsize(out))',
    ].join('\n');
    return Number(execFileSync(py!.exe, ['-c', script, tree, out], { encoding: 'utf8' }).trim());
  }
});
