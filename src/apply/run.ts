/**
 * Carrying a checked plan out: the journal started, its operations run (src/fsops/journal.ts), verify
 * after with the regressions that count for the plan, then commit; on a failed step or a regression, the
 * run rolled back.
 */
import fs from 'node:fs';
import type { Anchor } from '../fsops/anchor.js';
import { asRunError } from '../fsops/anchored.js';
import {
  beginJournal,
  commitJournal,
  JOURNAL_DIR,
  JournalError,
  journalPath,
  type JournalCalls,
  rollbackJournal,
  runOperations,
} from '../fsops/journal.js';
import { type Plan, type PlanFingerprint, sha256File } from '../plan/plan.js';
import { regressions, type Regression, verify, type VerifyReport } from '../verify/verify.js';
import type { ApplyOptions, ApplyReport } from './report.js';

/** Start the journal of a plan; one that could not be started is discarded and nothing was changed. */
export function startJournal(plan: Plan, text: string, anchor: Anchor, calls: JournalCalls): void {
  try {
    beginJournal(anchor, text, calls);
  } catch (e) {
    discardJournal(anchor, calls);
    throw asRunError(e, `${journalPath(plan.root)}: cannot start the journal, nothing was changed`, (t) =>
      anchor.readable(t),
    );
  }
}

/** A journal that could not be started holds no backup: it goes, so that the next run starts clean. */
function discardJournal(anchor: Anchor, calls: JournalCalls): void {
  try {
    if (fs.lstatSync(anchor.at(JOURNAL_DIR), { throwIfNoEntry: false }) !== undefined)
      rollbackJournal(anchor, [], calls);
  } catch {
    // Why: best effort; what is left is an empty start, which the next run recognizes and removes.
  }
}

/** Run the operations through the journal (resuming: writes already done are told by their content). */
export async function run(
  report: ApplyReport,
  plan: Plan,
  anchor: Anchor,
  options: ApplyOptions,
  calls: JournalCalls,
  contents: Map<number, Uint8Array>,
  resuming = false,
): Promise<ApplyReport> {
  const total = plan.operations.length;
  try {
    runOperations(
      plan.operations,
      {
        anchor,
        calls,
        content: (o, n) => {
          const data = contents.get(n);
          if (data === undefined)
            throw new JournalError(n, o.path, 'changed', `${o.path}: its source changed`);
          return data;
        },
        ...(resuming
          ? {
              sameContent: (abs: string, fp: PlanFingerprint) =>
                fp.sha256 !== undefined && sha256File(abs) === fp.sha256,
            }
          : {}),
      },
      (done) => {
        report.done = done;
        options.onStep?.(done, total);
      },
    );
  } catch (e) {
    if (!(e instanceof JournalError)) throw e;
    return rolledBack(report, plan, anchor, calls, anchor.readable(e.message));
  }
  report.done = total;
  return finish(report, plan, anchor, options, calls);
}

/** Undo the run after a failed step or a regression; an errno on the way back is one clear error. */
function rolledBack(
  report: ApplyReport,
  plan: Plan,
  anchor: Anchor,
  calls: JournalCalls,
  failure: string,
): ApplyReport {
  report.failure = failure;
  try {
    report.rollback = rollbackJournal(anchor, plan.operations, calls);
  } catch (e) {
    throw asRunError(
      e,
      `${failure}; then the rollback stopped`,
      (t) => anchor.readable(t),
      `the journal is kept at ${journalPath(plan.root)}: fix the cause and run \`pyfloppy apply --rollback\``,
    );
  }
  report.outcome = 'rolled-back';
  if (report.rollback.conflicts.length > 0) report.journal = journalPath(plan.root);
  return report;
}

/** Verify after (a regression rolls back), then commit unless the journal is to be kept. */
export async function finish(
  report: ApplyReport,
  plan: Plan,
  anchor: Anchor,
  options: ApplyOptions,
  calls: JournalCalls,
): Promise<ApplyReport> {
  if (options.verify !== undefined && report.verify !== undefined && report.outcome === 'applied') {
    options.onVerify?.('after');
    const after = await verifyTree(plan, options.verify);
    report.verify.after = after;
    report.verify.regressions = planRegressions(plan, report.verify.before, after);
    if (report.verify.regressions.length > 0)
      return rolledBack(
        report,
        plan,
        anchor,
        calls,
        `${report.verify.regressions.length} regressions found by verify`,
      );
  }
  if (options.commit === false) {
    report.journal = journalPath(plan.root);
    // Why: the journal holds every removed and replaced file until the commit: nothing is freed yet.
    report.toBeFreedAtCommit = report.saved;
    return report;
  }
  if (fs.lstatSync(anchor.at(JOURNAL_DIR), { throwIfNoEntry: false }) !== undefined)
    commitJournal(anchor, calls);
  report.committed = true;
  report.freed = report.saved;
  return report;
}

export function verifyTree(plan: Plan, v: NonNullable<ApplyOptions['verify']>): Promise<VerifyReport> {
  return verify({
    path: plan.root,
    python: v.python,
    ...(v.levels === undefined ? {} : { levels: v.levels }),
    ...(v.exclude === undefined ? {} : { exclude: v.exclude }),
    ...(v.regrtest === undefined ? {} : { regrtest: v.regrtest }),
    ...(v.onProgress === undefined ? {} : { onProgress: v.onProgress }),
  });
}

/** Regressions that count for this plan: modules it removes on purpose and levels it does not ship are not. */
export function planRegressions(plan: Plan, before: VerifyReport, after: VerifyReport): Regression[] {
  const removed = plan.removedModules;
  const gone = (m: string): boolean => removed.some((r) => m === r || m.startsWith(`${r}.`));
  return regressions(before, after, { writeLevels: plan.shippedLevels }).filter(
    (r) => !(r.kind === 'missing' && gone(r.module)) && !(r.kind === 'tests' && gone(r.package)),
  );
}
