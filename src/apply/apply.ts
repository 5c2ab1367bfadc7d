/**
 * `apply`: carry out a plan. Everything that can fail is done before the first change: the plan is parsed,
 * every file it touches is checked against its fingerprint (and re-hashed), every name it creates is
 * checked absent, no directory on the way is a symlink, and the content of every new file is computed.
 * Then the journal (src/fsops/journal.ts) carries the operations out; on any failure, or on a regression
 * that `verify` finds, it is rolled back. A journal left by a killed run is finished (same plan) or rolled
 * back (another plan) first.
 *
 * The stages live beside this file: tree.ts (plan file, root, anchor, lock, a journal's proof),
 * preflight.ts, run.ts (journal, operations, verify after, commit or rollback), resume.ts, rollback.ts.
 */
import fs from 'node:fs';
import { notWritable, PyfloppyError } from '../errors.js';
import type { Anchor } from '../fsops/anchor.js';
import { type JournalCalls, realJournalCalls } from '../fsops/journal.js';
import type { Plan } from '../plan/plan.js';
import { buildZips, preflight } from './preflight.js';
import { type ApplyOptions, type ApplyReport, baseReport } from './report.js';
import { resume, settleOther } from './resume.js';
import { run, startJournal, verifyTree } from './run.js';
import { checkRoot, readPlanFile, trustedJournal, withTree } from './tree.js';

export { APPLY_SCHEMA, type ApplyOptions, type ApplyReport, type Mismatch } from './report.js';
export { preflight } from './preflight.js';
export { planRegressions } from './run.js';
export { commit, rollback, type RollbackReport } from './rollback.js';

export async function apply(options: ApplyOptions): Promise<ApplyReport> {
  const { plan, text } = readPlanFile(options.planFile);
  checkRoot(plan);
  checkRegrtest(plan, options);
  return withTree(plan.root, plan.rootFp, options.dryRun === true ? null : 'apply', (anchor) =>
    applyAnchored(plan, text, anchor, options),
  );
}

/**
 * regrtest runs the tree's `test` package (or another tree's, testsFrom): after a plan that removes it,
 * without another, there is nothing to compare.
 */
function checkRegrtest(plan: Plan, options: ApplyOptions): void {
  const regrtest = options.verify?.regrtest;
  if (regrtest === undefined || regrtest.testsFrom !== undefined || !plan.removedModules.includes('test'))
    return;
  throw new PyfloppyError(
    'EUSAGE',
    `--regrtest: the plan removes ${plan.root}/test, the tests it would run`,
    {
      hint: 'run the tests of a copy of the original tree with --tests-from ORIGINAL',
    },
  );
}

async function applyAnchored(
  plan: Plan,
  text: string,
  anchor: Anchor,
  options: ApplyOptions,
): Promise<ApplyReport> {
  const calls = options.calls ?? realJournalCalls;
  const report = baseReport(plan, options.dryRun === true);
  const journal = trustedJournal(anchor, plan.root, calls);
  if (journal !== null && options.dryRun === true)
    throw new PyfloppyError('EUSAGE', `${plan.root} has the journal of an interrupted run`, {
      hint: 'run `pyfloppy apply --rollback` or apply that plan again first',
    });
  if (journal !== null && journal.text === text) return resume(report, plan, anchor, journal, options, calls);
  if (journal !== null) {
    settleOther(anchor, plan.root, journal, calls);
    report.rolledBackOther = true;
  }
  return applyFresh(report, plan, text, anchor, options, calls);
}

/** No journal (left): preflight, then (not a dry run) verify before, the journal, the operations. */
async function applyFresh(
  report: ApplyReport,
  plan: Plan,
  text: string,
  anchor: Anchor,
  options: ApplyOptions,
  calls: JournalCalls,
): Promise<ApplyReport> {
  const { mismatches, contents, zips } = preflight(plan);
  if (mismatches.length === 0) await buildZips(plan, zips, contents, mismatches);
  if (mismatches.length > 0) {
    report.outcome = 'refused';
    report.mismatches = mismatches;
    return report;
  }
  if (options.dryRun === true) {
    report.outcome = 'checked';
    return report;
  }
  checkWritable(plan);
  if (options.verify !== undefined) {
    options.onVerify?.('before');
    const before = options.verify.baseline ?? (await verifyTree(plan, options.verify));
    report.verify = { before, regressions: [] };
  }
  startJournal(plan, text, anchor, calls);
  return run(report, plan, anchor, options, calls, contents);
}

function checkWritable(plan: Plan): void {
  try {
    fs.accessSync(plan.root, fs.constants.W_OK);
  } catch (e) {
    throw notWritable(plan.root, e);
  }
}
