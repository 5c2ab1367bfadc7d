/**
 * A journal left by a killed run: the same plan is finished (each step re-checks what is not done yet,
 * the content hash standing in for ctimes the run changed); another plan's is committed if it was
 * committing, else rolled back, before this plan starts.
 */
import { PyfloppyError } from '../errors.js';
import { type Anchor, AnchorError } from '../fsops/anchor.js';
import { commitJournal, journalPath, type JournalCalls, rollbackJournal } from '../fsops/journal.js';
import { madeFrom, makeContent } from '../plan/files.js';
import { type Plan, type PlanFingerprint, zipInput } from '../plan/plan.js';
import type { ZipInput } from '../plan/zip.js';
import { buildZips, readVerified } from './preflight.js';
import type { ApplyOptions, ApplyReport } from './report.js';
import { finish, run } from './run.js';
import type { TrustedJournal } from './tree.js';

/** The same plan, interrupted: finish it (each step re-checks what is not done yet). */
export async function resume(
  report: ApplyReport,
  plan: Plan,
  anchor: Anchor,
  journal: TrustedJournal,
  options: ApplyOptions,
  calls: JournalCalls,
): Promise<ApplyReport> {
  report.resumed = true;
  if (journal.state.committing || journal.state.complete) {
    report.outcome = 'already-applied';
    report.done = plan.operations.length;
    return finish(report, plan, anchor, options, calls);
  }
  return run(report, plan, anchor, options, calls, await resumeContents(plan, anchor), true);
}

/** The journal of another plan, interrupted: committed if it was committing, else rolled back. */
export function settleOther(
  anchor: Anchor,
  root: string,
  journal: TrustedJournal,
  calls: JournalCalls,
): void {
  if (journal.state.committing) return commitJournal(anchor, calls);
  const r = rollbackJournal(anchor, journal.plan.operations, calls);
  if (r.conflicts.length > 0)
    throw new PyfloppyError(
      'EUSAGE',
      `the journal of an interrupted run could not be rolled back: ${r.conflicts[0]} is in the way`,
      { hint: `nothing was changed by this run; see ${journalPath(root)}`, exitCode: 1 },
    );
}

/** Resuming: the contents of writes not done yet, from sources that must still be the planned ones. */
async function resumeContents(plan: Plan, anchor: Anchor): Promise<Map<number, Uint8Array>> {
  const contents = new Map<number, Uint8Array>();
  const zips = new Map<number, ZipInput[]>();
  plan.operations.forEach((o, n) => {
    const read = (rel: string, fp: PlanFingerprint): Buffer | undefined => {
      let at: string;
      try {
        at = anchor.at(rel);
      } catch (e) {
        if (e instanceof AnchorError) return undefined; // the step itself fails and rolls back
        throw e;
      }
      const r = readVerified(at, fp);
      return 'data' in r ? r.data : undefined;
    };
    if (o.op === 'zip') {
      // Members are removed only after their archive is in place: if it is not, they still are.
      const inputs: ZipInput[] = [];
      for (const m of o.members) {
        const data = read(m.from, m.fp);
        if (data === undefined) return;
        inputs.push(zipInput(m, data));
      }
      zips.set(n, inputs);
    }
    if (o.op === 'replace') contents.set(n, makeContent(o.content, undefined));
    if (o.op !== 'write') return;
    const from = madeFrom(o.content);
    const data = from === undefined ? undefined : read(from.from, from.fp);
    if (from === undefined || data !== undefined) contents.set(n, makeContent(o.content, data));
  });
  // An archive that no longer builds to the planned bytes is not written: the step fails and rolls back.
  await buildZips(plan, zips, contents, []);
  return contents;
}
