/**
 * The tree a run acts on: the plan file read and validated, the root's identity, the root anchored
 * (src/fsops/anchor.ts) and locked, and a journal left by another run trusted only once it has proved
 * itself (src/fsops/journal-check.ts).
 */
import fs from 'node:fs';
import { PyfloppyError, readUserFile } from '../errors.js';
import { Anchor, AnchorError } from '../fsops/anchor.js';
import { asRunError } from '../fsops/anchored.js';
import {
  isEmptyStart,
  journalPath,
  type JournalCalls,
  type JournalState,
  readJournal,
  rollbackJournal,
} from '../fsops/journal.js';
import { JournalDistrust, journalStates } from '../fsops/journal-check.js';
import { lockTree } from '../fsops/lock.js';
import { parsePlan, type Plan, relPaths } from '../plan/plan.js';

export function readPlanFile(file: string): { plan: Plan; text: string } {
  const text = readUserFile(file);
  return { plan: parsePlan(text, file), text };
}

export function checkRoot(plan: Plan): void {
  const st = fs.statSync(plan.root, { bigint: true, throwIfNoEntry: false });
  if (st === undefined)
    throw new PyfloppyError('ENOTFOUND', `${plan.root}: no such directory (the plan's root)`);
  if (!st.isDirectory()) throw new PyfloppyError('ENOTDIR', `${plan.root}: not a directory`);
  if (st.dev.toString() !== plan.rootFp.dev || st.ino.toString() !== plan.rootFp.ino)
    throw new PyfloppyError('EUSAGE', `${plan.root} is not the directory the plan was made for`, {
      hint: 'the directory was replaced since: make a new plan',
      exitCode: 1,
    });
}

/**
 * Run `f` on the anchored root, holding the tree's lock when `command` changes it; a symlink or a moved
 * directory on the way, or an errno, becomes one clear error.
 */
export async function withTree<T>(
  root: string,
  expect: { dev: string; ino: string } | undefined,
  command: string | null,
  f: (anchor: Anchor) => T | Promise<T>,
): Promise<T> {
  const anchor = openAnchor(root, expect);
  try {
    const lock = command === null ? null : lockTree(root, command, anchor.dir('.'));
    try {
      return await f(anchor);
    } finally {
      lock?.release();
    }
  } catch (e) {
    throw asRunError(e, command ?? 'apply --dry-run', (s) => anchor.readable(s));
  } finally {
    anchor.close();
  }
}

function openAnchor(root: string, expect: { dev: string; ino: string } | undefined): Anchor {
  try {
    return new Anchor(root, expect);
  } catch (e) {
    if (!(e instanceof AnchorError)) throw e;
    throw new PyfloppyError('EUNSAFE', `${root}: ${e.message}`, {
      hint: 'the tree was replaced since the plan was made: make a new plan',
    });
  }
}

/** A journal that proved itself: its state, its plan parsed, and the plan's text. */
export interface TrustedJournal {
  state: JournalState;
  plan: Plan;
  text: string;
}

/**
 * The journal left in a tree, once it has proved itself (journal-check.ts), or null when there is none. A
 * journal killed before its plan was in place is removed (it holds nothing). Anything else that does not add
 * up is refused, and nothing is changed.
 */
export function trustedJournal(anchor: Anchor, root: string, calls: JournalCalls): TrustedJournal | null {
  const state = readJournal(anchor);
  if (state === null) return null;
  if (isEmptyStart(state)) {
    rollbackJournal(anchor, [], calls);
    return null;
  }
  const distrust = (why: string): PyfloppyError =>
    new PyfloppyError('EUNSAFE', `the journal ${journalPath(root)} cannot be trusted: ${why}`, {
      hint: 'nothing was changed; restore the files it holds by hand, or remove it if the tree is as it should be',
    });
  if (state.plan === '') throw distrust(`it has no ${'plan.json'} but holds ${state.names.length} names`);
  let plan: Plan;
  try {
    plan = parsePlan(state.plan, journalPath(root));
  } catch (e) {
    throw distrust(`its plan is not valid (${(e as Error).message})`);
  }
  if (
    plan.root !== root ||
    plan.rootFp.dev !== anchor.dev.toString() ||
    plan.rootFp.ino !== anchor.ino.toString()
  )
    throw distrust(`its plan is of another tree (${plan.root})`);
  try {
    journalStates(
      plan.operations,
      { anchor, dir: state.dir, committing: state.committing },
      state.names,
      state.complete,
    );
  } catch (e) {
    if (!(e instanceof JournalDistrust)) throw e;
    const o = plan.operations[e.index];
    throw distrust(
      o === undefined ? e.message : `step ${e.index + 1} (${o.op} ${relPaths(o).join(' -> ')}): ${e.message}`,
    );
  }
  return { state, plan, text: state.plan };
}
