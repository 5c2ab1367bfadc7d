/**
 * `apply --rollback` and `apply --commit`: a journal kept by --no-commit or left by a killed run, undone
 * or deleted, with the same anchor, lock and proof as `apply`.
 */
import fs from 'node:fs';
import { PyfloppyError } from '../errors.js';
import { commitJournal, type JournalCalls, realJournalCalls, rollbackJournal } from '../fsops/journal.js';
import type { Plan } from '../plan/plan.js';
import { readPlanFile, trustedJournal, withTree } from './tree.js';

/** The root a rollback or commit acts on: a plan file's root, or the directory itself. */
function rootOf(target: string): { root: string; plan: Plan | null; text: string | null } {
  const st = fs.statSync(target, { throwIfNoEntry: false });
  if (st === undefined) throw new PyfloppyError('ENOTFOUND', `${target}: no such file or directory`);
  // Why: the journal names paths from the root's real location (a zip operation's ../pythonXY.zip is
  // beside the real directory, not beside a symlink to it).
  if (st.isDirectory()) return { root: fs.realpathSync(target), plan: null, text: null };
  const { plan, text } = readPlanFile(target);
  return { root: plan.root, plan, text };
}

export interface RollbackReport {
  root: string;
  /** false when there was no journal to roll back. */
  found: boolean;
  restored: number;
  conflicts: string[];
}

/** Undo an interrupted or uncommitted apply, from its journal, once the journal has proved itself. */
export function rollback(target: string, calls: JournalCalls = realJournalCalls): Promise<RollbackReport> {
  const { root, plan, text } = rootOf(target);
  return withTree(root, plan?.rootFp, 'apply --rollback', (anchor) => {
    const journal = trustedJournal(anchor, root, calls);
    if (journal === null) return { root, found: false, restored: 0, conflicts: [] };
    if (text !== null && journal.text !== text)
      throw new PyfloppyError('EUSAGE', `${root}: the journal is of another plan than ${target}`, {
        hint: 'name the tree instead of the plan to roll back whatever its journal holds',
      });
    if (journal.state.committing)
      throw new PyfloppyError('EUSAGE', `${root}: the journal was being committed; it can only be finished`, {
        hint: 'run `pyfloppy apply --commit` on it',
      });
    return { root, found: true, ...rollbackJournal(anchor, journal.plan.operations, calls) };
  });
}

/** Delete the journal of a finished apply (made with --no-commit), once it has proved itself. */
export function commit(
  target: string,
  calls: JournalCalls = realJournalCalls,
): Promise<{ root: string; found: boolean }> {
  const { root, plan } = rootOf(target);
  return withTree(root, plan?.rootFp, 'apply --commit', (anchor) => {
    const journal = trustedJournal(anchor, root, calls);
    if (journal === null) return { root, found: false };
    if (!journal.state.complete && !journal.state.committing)
      throw new PyfloppyError('EUSAGE', `${root}: the journal is of an unfinished run`, {
        hint: 'apply the plan again to finish it, or roll it back with `pyfloppy apply --rollback`',
      });
    commitJournal(anchor, calls);
    return { root, found: true };
  });
}
