/**
 * A journal proves itself before anything trusts it (part of src/fsops; reads only). A journal left by another
 * run (killed, uncommitted, or planted) is read off its names and the tree: each operation is `todo` (nothing
 * of it happened, or a rollback undid it), `done`, or `partial` (killed between its two system calls), and
 * every backup must be the file the plan recorded (device, inode, size, mtime and, where the plan has one, the
 * SHA-256 of its bytes); a step that is done without its backup is refused. States need not be in run
 * order: a rollback that met a conflict leaves the steps it could not undo done among undone ones. The
 * markers must agree (`complete`: every operation done; `committing`: every operation's effect is in the tree,
 * backups may already be gone); the directory holds only names the journal makes. Anything else (a deleted or
 * overwritten backup, a forged marker, a missing or foreign plan, a name planted in the journal) is a
 * `JournalDistrust`: the caller refuses and changes nothing.
 */
import fs from 'node:fs';
import { type PlanFingerprint, type PlanOperation, sha256File } from '../plan/plan.js';
import { ABSENT, type Anchor } from './anchor.js';

export type OpState = 'todo' | 'done' | 'partial';
/** An operation's state, or why the journal cannot be trusted. */
type Verdict = OpState | { bad: string };

function bad(why: string): Verdict {
  return { bad: why };
}

/** Why a journal cannot be trusted: the operation (or -1 for the journal as a whole) and what is wrong. */
export class JournalDistrust extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/** What a check needs: names inside the journal and the tree, through the anchor. */
export interface CheckContext {
  anchor: Anchor;
  /** The journal directory's verified name. */
  dir: string;
  /** The run was committing: backups may be gone, the tree must show every effect. */
  committing: boolean;
}

type Stat = fs.BigIntStats | undefined;

function lstat(p: string): Stat {
  return fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
}

function same(a: Stat, b: Stat): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

function isFp(st: Stat, fp: PlanFingerprint): boolean {
  return st !== undefined && st.dev.toString() === fp.dev && st.ino.toString() === fp.ino;
}

/** A backup is the planned file: its identity, size, mtime and (for files with a recorded hash) bytes. */
function backupProblem(p: string, st: Stat, fp: PlanFingerprint): Verdict | null {
  if (st === undefined) return bad('its backup is gone from the journal');
  if (!isFp(st, fp)) return bad('its backup in the journal was replaced by another file');
  if (st.isDirectory()) return null;
  if (Number(st.size) !== fp.size || st.mtimeNs.toString() !== fp.mtimeNs)
    return bad('its backup in the journal was modified');
  if (fp.sha256 !== undefined && sha256File(p, Number(st.size)) !== fp.sha256)
    return bad('its backup in the journal has other bytes than the plan recorded');
  return null;
}

/** The state of one operation, or the reason the journal is not to be trusted (a string). */
export function opState(o: PlanOperation, n: number, ctx: CheckContext): Verdict {
  const at = (rel: string): string => ctx.anchor.find(rel) ?? ABSENT;
  const backup = `${ctx.dir}/${n}`;
  switch (o.op) {
    case 'remove':
    case 'rmdir':
      return removeState(lstat(at(o.path)), backup, o.fp, ctx.committing);
    case 'link':
      return linkState(lstat(at(o.path)), lstat(at(o.target)), backup, o.fp, ctx.committing);
    case 'move':
      return moveState(lstat(at(o.from)), lstat(at(o.to)), backup, o.fp, ctx.committing);
    case 'write':
    case 'zip':
      return writeState(o, lstat(at(o.path)), backup, ctx.committing);
    case 'replace':
      return replaceState(o, lstat(at(o.path)), backup, ctx.committing);
    case 'mkdir':
      return mkdirState(lstat(at(o.path)), lstat(`${backup}.mkdir`), ctx.committing);
  }
}

function removeState(p: Stat, backup: string, fp: PlanFingerprint, committing: boolean): Verdict {
  const b = lstat(backup);
  if (b === undefined) {
    if (p !== undefined) return 'todo';
    return committing ? 'done' : bad('gone from the tree, and its backup is not in the journal');
  }
  if (p !== undefined) return bad('in the tree again and in the journal');
  return backupProblem(backup, b, fp) ?? 'done';
}

function linkState(p: Stat, t: Stat, backup: string, fp: PlanFingerprint, committing: boolean): Verdict {
  const b = lstat(backup);
  if (p === undefined) return bad('gone from the tree');
  if (b === undefined) {
    if (isFp(p, fp)) return 'todo';
    if (same(p, t)) return committing ? 'done' : bad('linked, and its backup is not in the journal');
    return 'todo'; // changed by somebody: the step itself refuses it
  }
  const why = backupProblem(backup, b, fp);
  if (why !== null) return why;
  if (same(p, b)) return 'partial';
  return same(p, t) ? 'done' : bad('neither its old file nor its link target');
}

function moveState(a: Stat, to: Stat, backup: string, fp: PlanFingerprint, committing: boolean): Verdict {
  const b = lstat(backup);
  if (b !== undefined) {
    const why = backupProblem(backup, b, fp);
    if (why !== null) return why;
    if (a !== undefined) return bad('in the tree again and in the journal');
    return isFp(to, fp) ? 'done' : bad('its new name holds another file');
  }
  if (isFp(to, fp)) {
    if (isFp(a, fp)) return 'partial';
    return committing ? 'done' : bad('moved, and its backup is not in the journal');
  }
  return a !== undefined ? 'todo' : bad('gone from the tree, and its backup is not in the journal');
}

function writeState(
  o: Extract<PlanOperation, { op: 'write' | 'zip' }>,
  p: Stat,
  backup: string,
  committing: boolean,
): Verdict {
  const made = lstat(`${backup}.new`);
  if (made === undefined) {
    if (p === undefined) return lstat(`${backup}.tmp`) === undefined ? 'todo' : 'partial';
    return committing ? 'done' : bad('in the tree, and its new file is not in the journal');
  }
  if (Number(made.size) !== o.size) return bad('its new file in the journal is not the planned size');
  if (o.op === 'zip' && sha256File(`${backup}.new`, Number(made.size)) !== o.sha256)
    return bad('its new archive in the journal has other bytes than the plan recorded');
  if (p === undefined) return 'partial';
  return same(p, made) ? 'done' : bad('its path holds another file');
}

/** Replace: `n.new` the planned bytes, `n` the old file; P the old file (todo, partial) or `n.new` (done). */
function replaceState(
  o: Extract<PlanOperation, { op: 'replace' }>,
  p: Stat,
  backup: string,
  committing: boolean,
): Verdict {
  const made = lstat(`${backup}.new`);
  if (made !== undefined && sha256File(`${backup}.new`, Number(made.size)) !== o.content.sha256)
    return bad('its new file in the journal has other bytes than the plan carries');
  if (p === undefined) return bad('gone from the tree');
  const b = lstat(backup);
  if (b === undefined) {
    if (isFp(p, o.fp)) return made === undefined && lstat(`${backup}.tmp`) === undefined ? 'todo' : 'partial';
    if (committing) return 'done';
    if (same(p, made)) return bad('replaced, and its backup is not in the journal');
    return 'todo'; // changed by somebody: the step itself refuses it
  }
  const why = backupProblem(backup, b, o.fp);
  if (why !== null) return why;
  if (same(p, b)) return 'partial';
  return same(p, made) ? 'done' : bad('neither its old file nor its new one');
}

function mkdirState(d: Stat, intent: Stat, committing: boolean): Verdict {
  if (intent === undefined) {
    if (d === undefined) return 'todo';
    return committing ? 'done' : bad('made, and its record is not in the journal');
  }
  if (d === undefined) return 'partial';
  return d.isDirectory() ? 'done' : bad('its path holds a file, not a directory');
}

/** Names a journal of `count` operations may hold. */
const NAME = /^(?:plan\.json|plan\.json\.tmp|complete|committing|\d+(?:\.new|\.tmp|\.mkdir)?)$/;

/**
 * The state of every operation, checked against the markers; throws JournalDistrust.
 * `complete` says the run finished (every operation must be done).
 */
export function journalStates(
  ops: readonly PlanOperation[],
  ctx: CheckContext,
  names: readonly string[],
  complete: boolean,
): OpState[] {
  for (const name of names) {
    const n = /^\d+/.exec(name);
    if (!NAME.test(name) || (n !== null && Number(n[0]) >= ops.length))
      throw new JournalDistrust(-1, `it holds ${name}, which no step of its plan makes`);
  }
  const states = ops.map((o, n) => {
    const s = opState(o, n, ctx);
    if (typeof s === 'object') throw new JournalDistrust(n, s.bad);
    return s;
  });
  const notDone = states.findIndex((s) => s !== 'done');
  if ((complete || ctx.committing) && notDone >= 0)
    throw new JournalDistrust(notDone, 'not done, although the journal says the run finished');
  return states;
}
