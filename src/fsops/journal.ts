/**
 * Carrying out a plan with a journal (part of src/fsops, the only code that writes). The journal is a
 * directory in the tree's root, so on the same file system: `.pyfloppy-journal/`, holding the plan and, for
 * operation n, the names that make it reversible:
 *
 *   remove P     P is renamed to `n`                      (rollback renames it back)
 *   link P->T    P is first linked as `n`, then replaced atomically by a link to T
 *                                                          (rollback renames `n` over P: one atomic step)
 *   move A->B    B is created as a link to A (never overwriting), then A is renamed to `n`
 *   write P      the content is written and fsynced as `n.new`, then linked as P (never overwriting)
 *   replace P    the content is written as `n.new`, P linked as `n`, then replaced atomically by a link
 *                to `n.new`                               (rollback renames `n` over P)
 *   zip P        the same, for an archive (P may be `../pythonXY.zip`, beside a stdlib root)
 *   mkdir D      `n.mkdir` records the intent, then D is made
 *   rmdir D      D is renamed to `n` (and renamed back at once if something appeared in it)
 *
 * No log is needed: every step is one atomic system call and which steps happened is read off the names, so
 * a run killed at any instant can be rolled back (or finished) by looking. Every path holds its old or its
 * new content at every instant; nothing is deleted before commit, which deletes the journal. Durability
 * across a power loss is not claimed (directories are not fsynced); a process crash or SIGKILL is covered.
 *
 * Right before each step, the file is checked against the plan's fingerprint (dev, ino, size, mtime,
 * ctime), where ctime may also be the one this run itself caused (linking and renaming change it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { type PlanFingerprint, type PlanOperation, relPaths } from '../plan/plan.js';
import { type FsCalls, realCalls, removeLeftover, replaceWithLink, TEMP_NAME } from './link.js';
import { ABSENT, type Anchor, AnchorError } from './anchor.js';
import { at } from './at.js';
import { fingerprintOf } from './fingerprint.js';

export const JOURNAL_DIR = '.pyfloppy-journal';
const PLAN_FILE = 'plan.json';
const COMPLETE = 'complete';
const COMMITTING = 'committing';

/** A step refused or failed: the operation index, the path, and why. */
export class JournalError extends Error {
  constructor(
    readonly index: number,
    readonly path: string,
    readonly reason: 'changed' | 'exists' | 'not-empty' | 'errno',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface JournalCalls extends FsCalls {
  mkdir(p: string, mode: number): void;
  rmdir(p: string): void;
  readdir(p: string): string[];
  /** Create a file exclusively with `data`, fsynced, with `mode` exactly. */
  writeNew(p: string, data: Uint8Array, mode: number): void;
}

export const realJournalCalls: JournalCalls = {
  ...realCalls,
  mkdir: (p, mode) => {
    at.mkdir(p);
    fs.chmodSync(p, mode);
  },
  rmdir: (p) => at.rmdir(p),
  readdir: (p) => fs.readdirSync(p),
  writeNew: (p, data, mode) => {
    const fd = at.openNew(p, 0o600);
    try {
      fs.writeFileSync(fd, data);
      fs.fchmodSync(fd, mode);
      fs.fsyncSync(fd);
    } finally {
      at.close(fd);
    }
  },
};

export interface JournalState {
  /** The journal directory's verified name (through the anchor). */
  dir: string;
  /** The plan text the journal was started with ('' when it has none). */
  plan: string;
  complete: boolean;
  committing: boolean;
  /** Every name in the journal directory. */
  names: string[];
}

export function journalPath(root: string): string {
  return path.join(root, JOURNAL_DIR);
}

/**
 * The journal of an anchored root, or null when there is none. Its directory must be a real directory on the
 * tree's device (the anchor refuses a symlink, which would lead rollback and commit outside the tree).
 */
export function readJournal(anchor: Anchor): JournalState | null {
  if (fs.lstatSync(anchor.at(JOURNAL_DIR), { throwIfNoEntry: false }) === undefined) return null;
  const dir = anchor.pinned(JOURNAL_DIR);
  let plan = '';
  try {
    const fd = fs.openSync(path.join(dir, PLAN_FILE), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      plan = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    // Why: killed between creating the directory and renaming the plan into it; the caller checks that
    // nothing else is in the journal then.
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  const names = fs.readdirSync(dir);
  return { dir, plan, names, complete: names.includes(COMPLETE), committing: names.includes(COMMITTING) };
}

/** A journal killed before its plan was in place: nothing else happened, it holds nothing to restore. */
export function isEmptyStart(j: JournalState): boolean {
  return j.plan === '' && j.names.every((n) => n === `${PLAN_FILE}.tmp`);
}

/** Start a journal: the directory (exclusively: never two runs on one tree) and the plan in it. */
export function beginJournal(anchor: Anchor, planText: string, calls: JournalCalls = realJournalCalls): void {
  calls.mkdir(anchor.at(JOURNAL_DIR), 0o700);
  const j = anchor.pinned(JOURNAL_DIR);
  const tmp = path.join(j, `${PLAN_FILE}.tmp`);
  calls.writeNew(tmp, Buffer.from(planText), 0o600);
  calls.rename(tmp, path.join(j, PLAN_FILE));
}

export interface StepContext {
  anchor: Anchor;
  calls?: JournalCalls;
  /** Content of a `write` operation (computed and checked by the caller). */
  content(op: Extract<PlanOperation, { op: 'write' | 'zip' | 'replace' }>, index: number): Uint8Array;
  /** Finishing a killed run: accept a changed ctime when this says the content is the planned one. */
  sameContent?: (abs: string, fp: PlanFingerprint) => boolean;
}

/** ctimes this run caused, by inode ("dev:ino"): a file whose ctime is one of these is still the planned one. */
type Caused = Map<string, bigint>;

function key(st: fs.BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

function matches(
  st: fs.BigIntStats | undefined,
  fp: PlanFingerprint,
  caused: Caused,
  resume: ((st: fs.BigIntStats, fp: PlanFingerprint) => boolean) | undefined,
): boolean {
  if (st === undefined) return false;
  if (st.dev.toString() !== fp.dev || st.ino.toString() !== fp.ino) return false;
  if (st.isDirectory()) return true; // its mtime and ctime change as earlier operations empty it
  if (Number(st.size) !== fp.size || st.mtimeNs.toString() !== fp.mtimeNs) return false;
  if (st.ctimeNs.toString() === fp.ctimeNs || caused.get(key(st)) === st.ctimeNs) return true;
  // Why: a killed run changed the ctimes of what it linked and renamed, and its memory of that is gone;
  // finishing it, the content hash stands in for the ctime.
  if (resume !== undefined && resume(st, fp)) {
    caused.set(key(st), st.ctimeNs);
    return true;
  }
  return false;
}

/** One step of a run: its operation, where its backup goes, and the checks and calls it makes. */
class Step {
  readonly backup: string;
  constructor(
    readonly n: number,
    readonly run: Run,
  ) {
    this.backup = path.join(run.journal, String(n));
  }

  /**
   * A path of the tree, inside its verified parent directory; a symlink on the way fails the step. A path
   * whose directory is gone (moved into the journal by a done rmdir, when resuming) is absent.
   */
  at(rel: string): string {
    try {
      return this.run.ctx.anchor.find(rel) ?? ABSENT;
    } catch (e) {
      if (e instanceof AnchorError) return this.fail(rel, 'changed', e.message);
      throw e;
    }
  }

  has(p: string): fs.BigIntStats | undefined {
    return this.run.calls.lstat(p);
  }

  check(p: string, fp: PlanFingerprint): boolean {
    const byContent = this.run.ctx.sameContent;
    return matches(
      this.has(p),
      fp,
      this.run.caused,
      byContent === undefined ? undefined : (_st, f) => byContent(p, f),
    );
  }

  fail(rel: string, reason: JournalError['reason'], msg: string, cause?: unknown): never {
    throw new JournalError(
      this.n,
      rel,
      reason,
      `${rel}: ${msg}`,
      cause === undefined ? undefined : { cause },
    );
  }

  sys<T>(rel: string, what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof JournalError) throw e;
      return this.fail(rel, 'errno', `${what}: ${(e as Error).message}`, e);
    }
  }

  /** Remember the ctimes this step caused on these names. */
  note(...paths: string[]): void {
    for (const p of paths) {
      const st = this.run.calls.lstat(p);
      if (st !== undefined) this.run.caused.set(key(st), st.ctimeNs);
    }
  }
}

interface Run {
  ctx: StepContext;
  calls: JournalCalls;
  journal: string;
  caused: Caused;
}

function stepRemove(s: Step, o: Extract<PlanOperation, { op: 'remove' }>): void {
  const P = s.at(o.path);
  if (s.has(s.backup) !== undefined) {
    if (s.has(P) !== undefined) s.fail(o.path, 'exists', 'reappeared after it was journaled');
    return;
  }
  if (!s.check(P, o.fp)) s.fail(o.path, 'changed', 'changed since the plan was made');
  s.sys(o.path, 'rename into the journal', () => s.run.calls.rename(P, s.backup));
  s.note(s.backup);
}

function stepLink(s: Step, o: Extract<PlanOperation, { op: 'link' }>): void {
  const P = s.at(o.path);
  const T = s.at(o.target);
  const t = s.has(T);
  if (t === undefined || !s.check(T, o.targetFp))
    s.fail(o.target, 'changed', 'changed since the plan was made');
  const b = s.has(s.backup);
  if (b === undefined) {
    if (!s.check(P, o.fp)) s.fail(o.path, 'changed', 'changed since the plan was made');
    s.sys(o.path, 'link into the journal', () => s.run.calls.link(P, s.backup));
    s.note(P, T);
  } else {
    // Resuming after a crash: a temporary name of T left in P's directory goes (it is T's second name).
    for (const leftover of siblingsMatching(path.dirname(P), s.run.calls))
      removeLeftover(leftover, s.run.calls);
    const p = s.has(P);
    if (p !== undefined && p.ino === t.ino && p.dev === t.dev) return; // done before a crash
    if (p === undefined || p.ino !== b.ino) s.fail(o.path, 'changed', 'changed after it was journaled');
    s.note(P, T);
  }
  const pNow = fingerprintOf(s.has(P)!);
  const tNow = fingerprintOf(s.has(T)!);
  const r = replaceWithLink(T, P, { survivor: tNow, target: pNow }, s.run.calls);
  if (!r.ok) s.fail(o.path, r.reason === 'changed' ? 'changed' : 'errno', r.message);
  s.note(P, s.backup);
}

function stepMove(s: Step, o: Extract<PlanOperation, { op: 'move' }>): void {
  const A = s.at(o.from);
  const B = s.at(o.to);
  const b = s.has(B);
  const ours = b !== undefined && b.ino.toString() === o.fp.ino && b.dev.toString() === o.fp.dev;
  if (s.has(s.backup) !== undefined) {
    if (!ours) s.fail(o.to, 'changed', 'changed after it was journaled');
    return;
  }
  if (b !== undefined && !ours) s.fail(o.to, 'exists', 'exists (the plan needs it absent)');
  if (!s.check(A, o.fp)) s.fail(o.from, 'changed', 'changed since the plan was made');
  if (!ours) {
    s.sys(o.to, 'link', () => s.run.calls.link(A, B));
    s.note(A);
  }
  s.sys(o.from, 'rename into the journal', () => s.run.calls.rename(A, s.backup));
  s.note(B);
}

function stepWrite(s: Step, o: Extract<PlanOperation, { op: 'write' | 'zip' }>): void {
  const P = s.at(o.path);
  const made = `${s.backup}.new`;
  const m = s.has(made);
  const p = s.has(P);
  if (m !== undefined && p !== undefined && p.ino === m.ino && p.dev === m.dev) return;
  if (p !== undefined) s.fail(o.path, 'exists', 'exists (the plan needs it absent)');
  if (m === undefined) {
    const data = s.run.ctx.content(o, s.n);
    const tmp = `${s.backup}.tmp`;
    if (s.has(tmp) !== undefined) s.sys(o.path, 'unlink', () => s.run.calls.unlink(tmp));
    s.sys(o.path, 'write', () => s.run.calls.writeNew(tmp, data, o.mode));
    s.sys(o.path, 'rename', () => s.run.calls.rename(tmp, made));
  }
  s.sys(o.path, 'link', () => s.run.calls.link(made, P));
}

/** A replace's new content as `n.new`: written to `n.tmp` (a leftover one replaced), fsynced, renamed. */
function writeMade(s: Step, o: Extract<PlanOperation, { op: 'replace' }>): void {
  const data = s.run.ctx.content(o, s.n);
  const tmp = `${s.backup}.tmp`;
  if (s.has(tmp) !== undefined) s.sys(o.path, 'unlink', () => s.run.calls.unlink(tmp));
  s.sys(o.path, 'write', () => s.run.calls.writeNew(tmp, data, o.mode));
  s.sys(o.path, 'rename', () => s.run.calls.rename(tmp, `${s.backup}.new`));
}

/** Replace: the new content as `n.new`, the old file kept as `n` (a link), then P made a link to `n.new`. */
function stepReplace(s: Step, o: Extract<PlanOperation, { op: 'replace' }>): void {
  const P = s.at(o.path);
  const made = `${s.backup}.new`;
  if (s.has(made) === undefined) writeMade(s, o);
  // Resuming after a crash: a temporary name of `n.new` left in P's directory goes (before `n.new` is stat'ed).
  else for (const t of siblingsMatching(path.dirname(P), s.run.calls)) removeLeftover(t, s.run.calls);
  const m = s.has(made)!;
  const p = s.has(P);
  if (p !== undefined && p.ino === m.ino && p.dev === m.dev) return; // done before a crash
  const b = s.has(s.backup);
  if (b === undefined) {
    if (!s.check(P, o.fp)) s.fail(o.path, 'changed', 'changed since the plan was made');
    s.sys(o.path, 'link into the journal', () => s.run.calls.link(P, s.backup));
  } else if (p === undefined || p.ino !== b.ino || p.dev !== b.dev)
    s.fail(o.path, 'changed', 'changed after it was journaled');
  s.note(P, made);
  const r = replaceWithLink(
    made,
    P,
    { survivor: fingerprintOf(m), target: fingerprintOf(s.has(P)!) },
    s.run.calls,
  );
  if (!r.ok) s.fail(o.path, r.reason === 'changed' ? 'changed' : 'errno', r.message);
  s.note(P, s.backup);
}

function stepMkdir(s: Step, o: Extract<PlanOperation, { op: 'mkdir' }>): void {
  const D = s.at(o.path);
  const intent = `${s.backup}.mkdir`;
  if (s.has(intent) === undefined) {
    if (s.has(D) !== undefined) s.fail(o.path, 'exists', 'exists (the plan needs it absent)');
    s.sys(o.path, 'journal', () => s.run.calls.writeNew(intent, new Uint8Array(0), 0o600));
  } else if (s.has(D)?.isDirectory() === true) return;
  s.sys(o.path, 'mkdir', () => s.run.calls.mkdir(D, o.mode));
}

function stepRmdir(s: Step, o: Extract<PlanOperation, { op: 'rmdir' }>): void {
  const D = s.at(o.path);
  if (s.has(s.backup) !== undefined) {
    if (s.has(D) !== undefined) s.fail(o.path, 'exists', 'reappeared after it was journaled');
    return;
  }
  if (!s.check(D, o.fp)) s.fail(o.path, 'changed', 'changed since the plan was made');
  s.sys(o.path, 'rename into the journal', () => s.run.calls.rename(D, s.backup));
  // Why: a file created in it since it was planned would otherwise go with the journal at commit.
  if (s.run.calls.readdir(s.backup).length > 0) {
    s.sys(o.path, 'rename back', () => s.run.calls.rename(s.backup, D));
    s.fail(o.path, 'not-empty', 'not empty (something was added since the plan was made)');
  }
}

function runStep(s: Step, o: PlanOperation): void {
  switch (o.op) {
    case 'remove':
      return stepRemove(s, o);
    case 'link':
      return stepLink(s, o);
    case 'move':
      return stepMove(s, o);
    case 'write':
    case 'zip':
      return stepWrite(s, o);
    case 'replace':
      return stepReplace(s, o);
    case 'mkdir':
      return stepMkdir(s, o);
    case 'rmdir':
      return stepRmdir(s, o);
  }
}

/**
 * Carry out the operations in order (those already done, by a killed run of the same plan, are recognized
 * and passed), each step re-checked and acting inside verified directories. `onStep` is called after each
 * operation. Throws JournalError on the first step that cannot be done; the caller rolls back.
 */
export function runOperations(
  ops: readonly PlanOperation[],
  ctx: StepContext,
  onStep?: (done: number) => void,
): void {
  const calls = plainReads(ctx.calls ?? realJournalCalls, ctx.anchor);
  let journal: string;
  try {
    journal = ctx.anchor.pinned(JOURNAL_DIR);
  } catch (e) {
    if (e instanceof AnchorError) throw new JournalError(0, JOURNAL_DIR, 'changed', e.message);
    throw e;
  }
  const run: Run = { ctx, calls, journal, caused: new Map() };
  try {
    ops.forEach((o, n) => {
      ctx.anchor.beginStep();
      runStep(new Step(n, run), o);
      ctx.anchor.endSteps();
      onStep?.(n + 1);
    });
  } finally {
    ctx.anchor.endSteps();
  }
  calls.writeNew(path.join(journal, COMPLETE), new Uint8Array(0), 0o600);
}

export interface RollbackResult {
  restored: number;
  /** Paths that could not be restored because something else is there now (left in the journal). */
  conflicts: string[];
}

/** The calls with lstat through plain paths (see Anchor.plainOf): what acts still goes through the anchor. */
function plainReads(calls: JournalCalls, anchor: Anchor): JournalCalls {
  return { ...calls, lstat: (p) => calls.lstat(typeof p === 'string' ? anchor.plainOf(p) : p) };
}

/** What undoing one operation needs: the names, the calls, and where to report. */
interface Undo {
  anchor: Anchor;
  calls: JournalCalls;
  backup: string;
  result: RollbackResult;
}

function undoRemove(u: Undo, rel: string): void {
  const P = u.anchor.at(rel);
  if (u.calls.lstat(u.backup) === undefined) return;
  if (u.calls.lstat(P) !== undefined) {
    u.result.conflicts.push(rel);
    return;
  }
  u.calls.rename(u.backup, P);
  u.result.restored++;
}

function undoLink(u: Undo, o: Extract<PlanOperation, { op: 'link' }>): void {
  const P = u.anchor.at(o.path);
  const b = u.calls.lstat(u.backup);
  for (const leftover of siblingsMatching(path.dirname(P), u.calls)) removeLeftover(leftover, u.calls);
  if (b === undefined) return;
  const p = u.calls.lstat(P);
  if (p !== undefined && p.ino === b.ino && p.dev === b.dev) {
    // Why: rename() of two names of one inode does nothing; the replace had not happened yet.
    u.calls.unlink(u.backup);
    u.result.restored++;
    return;
  }
  const t = u.calls.lstat(u.anchor.at(o.target));
  if (p !== undefined && (t === undefined || p.ino !== t.ino || p.dev !== t.dev)) {
    u.result.conflicts.push(o.path);
    return;
  }
  u.calls.rename(u.backup, P);
  u.result.restored++;
}

function undoMove(u: Undo, o: Extract<PlanOperation, { op: 'move' }>): void {
  const A = u.anchor.at(o.from);
  const B = u.anchor.at(o.to);
  if (u.calls.lstat(u.backup) !== undefined) {
    if (u.calls.lstat(A) !== undefined) {
      u.result.conflicts.push(o.from);
      return;
    }
    u.calls.rename(u.backup, A);
  }
  const a = u.calls.lstat(A);
  const b = u.calls.lstat(B);
  // B goes only while A is another name of the same inode: never the last name of anything.
  if (b !== undefined && b.ino.toString() === o.fp.ino && a !== undefined && a.ino === b.ino) {
    u.calls.unlink(B);
    u.result.restored++;
  }
}

function undoWrite(u: Undo, rel: string): void {
  const made = `${u.backup}.new`;
  const m = u.calls.lstat(made);
  if (m !== undefined) {
    const P = u.anchor.find(rel);
    const p = P === null ? undefined : u.calls.lstat(P);
    if (p !== undefined && p.ino === m.ino && p.dev === m.dev) {
      u.calls.unlink(P!);
      u.result.restored++;
    }
    u.calls.unlink(made);
  }
  if (u.calls.lstat(`${u.backup}.tmp`) !== undefined) u.calls.unlink(`${u.backup}.tmp`);
}

/** The old file back (it never left: `n` is its second name until P was replaced), `n.new` dropped. */
function undoReplace(u: Undo, rel: string): void {
  const P = u.anchor.at(rel);
  for (const leftover of siblingsMatching(path.dirname(P), u.calls)) removeLeftover(leftover, u.calls);
  const made = `${u.backup}.new`;
  const b = u.calls.lstat(u.backup);
  if (b !== undefined) {
    const p = u.calls.lstat(P);
    const m = u.calls.lstat(made);
    if (p !== undefined && p.ino === b.ino && p.dev === b.dev) u.calls.unlink(u.backup);
    else if (p === undefined || (m !== undefined && p.ino === m.ino && p.dev === m.dev))
      u.calls.rename(u.backup, P);
    else {
      u.result.conflicts.push(rel);
      return;
    }
    u.result.restored++;
  }
  for (const f of [made, `${u.backup}.tmp`]) if (u.calls.lstat(f) !== undefined) u.calls.unlink(f);
}

function undoMkdir(u: Undo, rel: string): void {
  const intent = `${u.backup}.mkdir`;
  if (u.calls.lstat(intent) === undefined) return;
  const D = u.anchor.find(rel);
  if (D !== null && u.calls.lstat(D)?.isDirectory() === true) {
    try {
      u.calls.rmdir(D);
      u.anchor.forget(rel);
      u.result.restored++;
    } catch (e) {
      if (errnoCode(e) !== 'ENOTEMPTY' && errnoCode(e) !== 'EEXIST') throw e;
      u.result.conflicts.push(rel);
      return;
    }
  }
  u.calls.unlink(intent);
}

function undoStep(u: Undo, o: PlanOperation): void {
  switch (o.op) {
    case 'remove':
    case 'rmdir':
      return undoRemove(u, o.path);
    case 'link':
      return undoLink(u, o);
    case 'move':
      return undoMove(u, o);
    case 'write':
    case 'zip':
      return undoWrite(u, o.path);
    case 'replace':
      return undoReplace(u, o.path);
    case 'mkdir':
      return undoMkdir(u, o.path);
  }
}

/**
 * Undo what the journal shows was done, last operation first, then delete the journal. Idempotent: a
 * rollback killed midway is finished by the next one. A path someone else has filled since is not
 * clobbered, and a path whose directory became a symlink is not followed: either is reported, and the
 * journal is kept so nothing is lost. The journal is deleted only when it holds nothing but its own
 * bookkeeping: a backup that was not restored is never deleted.
 */
export function rollbackJournal(
  anchor: Anchor,
  ops: readonly PlanOperation[],
  calls: JournalCalls = realJournalCalls,
): RollbackResult {
  const j = anchor.pinned(JOURNAL_DIR);
  calls = plainReads(calls, anchor);
  const result: RollbackResult = { restored: 0, conflicts: [] };
  // Why: from the first undone step on, the run is no longer complete; a rollback stopped midway (an errno,
  // a kill) must not leave a marker that says every step is done.
  if (calls.lstat(path.join(j, COMPLETE)) !== undefined) calls.unlink(path.join(j, COMPLETE));
  for (let n = ops.length - 1; n >= 0; n--) {
    const o = ops[n]!;
    try {
      anchor.beginStep();
      undoStep({ anchor, calls, backup: path.join(j, String(n)), result }, o);
    } catch (e) {
      if (!(e instanceof AnchorError)) throw e;
      result.conflicts.push(`${relPaths(o)[0]} (${e.message})`);
    } finally {
      anchor.endSteps();
    }
  }
  if (result.conflicts.length > 0) return result;
  const left = calls.readdir(j).filter((name) => !BOOKKEEPING.has(name));
  if (left.length > 0) {
    result.conflicts.push(...left.map((name) => `${JOURNAL_DIR}/${name} (not restored)`));
    return result;
  }
  deleteJournal(anchor, calls);
  return result;
}

/** The journal's own files: no backup among them. */
const BOOKKEEPING = new Set([PLAN_FILE, `${PLAN_FILE}.tmp`, COMPLETE, COMMITTING]);

function siblingsMatching(dir: string, calls: JournalCalls): string[] {
  try {
    return calls
      .readdir(dir)
      .filter((n) => TEMP_NAME.test(n))
      .map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

/** Commit: the old names kept in the journal are deleted; from here there is no way back. */
export function commitJournal(anchor: Anchor, calls: JournalCalls = realJournalCalls): void {
  const j = anchor.pinned(JOURNAL_DIR);
  if (calls.lstat(path.join(j, COMMITTING)) === undefined)
    calls.writeNew(path.join(j, COMMITTING), new Uint8Array(0), 0o600);
  deleteJournal(anchor, calls);
}

/**
 * Delete the journal directory: its files, and the (empty) directories of rmdir operations. The plan and
 * the committing marker go last, so a deletion killed midway is recognized and finished by the next run.
 */
function deleteJournal(anchor: Anchor, calls: JournalCalls): void {
  const j = anchor.pinned(JOURNAL_DIR);
  const last = new Set([PLAN_FILE, COMMITTING]);
  for (const name of calls.readdir(j)) {
    if (last.has(name)) continue;
    const p = path.join(j, name);
    // Why unlink first: all but the rmdir backups are files, and an lstat per name cost as much as the
    // unlink; Linux answers EISDIR for a directory (POSIX allows EPERM).
    try {
      calls.unlink(p);
    } catch (e) {
      if (errnoCode(e) !== 'EISDIR' && errnoCode(e) !== 'EPERM') throw e;
      calls.rmdir(p);
    }
  }
  for (const name of [PLAN_FILE, COMMITTING])
    if (calls.lstat(path.join(j, name)) !== undefined) calls.unlink(path.join(j, name));
  calls.rmdir(anchor.at(JOURNAL_DIR));
  anchor.forget(JOURNAL_DIR);
}
