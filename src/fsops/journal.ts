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
import type { PlanFingerprint, PlanOperation } from '../plan/plan.js';
import { type FsCalls, realCalls, removeLeftover, replaceWithLink, TEMP_NAME } from './link.js';
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
    fs.mkdirSync(p);
    fs.chmodSync(p, mode);
  },
  rmdir: (p) => fs.rmdirSync(p),
  readdir: (p) => fs.readdirSync(p),
  writeNew: (p, data, mode) => {
    const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    try {
      fs.writeFileSync(fd, data);
      fs.fchmodSync(fd, mode);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
};

export interface JournalState {
  /** The plan text the journal was started with. */
  plan: string;
  complete: boolean;
  committing: boolean;
}

export function journalPath(root: string): string {
  return path.join(root, JOURNAL_DIR);
}

/** The journal of a root, or null when there is none. */
export function readJournal(root: string): JournalState | null {
  const j = journalPath(root);
  const st = fs.lstatSync(j, { throwIfNoEntry: false });
  if (st === undefined) return null;
  let plan = '';
  try {
    plan = fs.readFileSync(path.join(j, PLAN_FILE), 'utf8');
  } catch (e) {
    // Why: killed between creating the directory and renaming the plan into it: nothing else happened yet.
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  return {
    plan,
    complete: fs.existsSync(path.join(j, COMPLETE)),
    committing: fs.existsSync(path.join(j, COMMITTING)),
  };
}

/** Start a journal: the directory (exclusively: never two runs on one tree) and the plan in it. */
export function beginJournal(root: string, planText: string, calls: JournalCalls = realJournalCalls): void {
  const j = journalPath(root);
  calls.mkdir(j, 0o700);
  const tmp = path.join(j, `${PLAN_FILE}.tmp`);
  calls.writeNew(tmp, Buffer.from(planText), 0o600);
  calls.rename(tmp, path.join(j, PLAN_FILE));
}

export interface StepContext {
  root: string;
  calls?: JournalCalls;
  /** Content of a `write` operation (computed and checked by the caller). */
  content(op: Extract<PlanOperation, { op: 'write' | 'zip' }>, index: number): Uint8Array;
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

function note(caused: Caused, calls: FsCalls, ...paths: string[]): void {
  for (const p of paths) {
    const st = calls.lstat(p);
    if (st !== undefined) caused.set(key(st), st.ctimeNs);
  }
}

/**
 * Carry out operations `from`..end (those before are done), each step re-checked. `onStep` is called after
 * each operation. Throws JournalError on the first step that cannot be done; the caller rolls back.
 */
export function runOperations(
  ops: readonly PlanOperation[],
  ctx: StepContext,
  onStep?: (done: number) => void,
): void {
  const calls = ctx.calls ?? realJournalCalls;
  const j = journalPath(ctx.root);
  const abs = (rel: string): string => path.join(ctx.root, rel);
  const caused: Caused = new Map();
  const byContent = ctx.sameContent;
  const check = (p: string, fp: PlanFingerprint): boolean =>
    matches(calls.lstat(p), fp, caused, byContent === undefined ? undefined : (_st, f) => byContent(p, f));
  const fail = (
    n: number,
    p: string,
    reason: JournalError['reason'],
    msg: string,
    cause?: unknown,
  ): never => {
    throw new JournalError(n, p, reason, `${p}: ${msg}`, cause === undefined ? undefined : { cause });
  };
  const sys = <T>(n: number, p: string, what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof JournalError) throw e;
      return fail(n, p, 'errno', `${what}: ${(e as Error).message}`, e);
    }
  };
  ops.forEach((o, n) => {
    const backup = path.join(j, String(n));
    const has = (p: string): fs.BigIntStats | undefined => calls.lstat(p);
    switch (o.op) {
      case 'remove': {
        const P = abs(o.path);
        if (has(backup) !== undefined) {
          if (has(P) !== undefined) fail(n, o.path, 'exists', 'reappeared after it was journaled');
          break;
        }
        if (!check(P, o.fp)) fail(n, o.path, 'changed', 'changed since the plan was made');
        sys(n, o.path, 'rename into the journal', () => calls.rename(P, backup));
        note(caused, calls, backup);
        break;
      }
      case 'link': {
        const P = abs(o.path);
        const T = abs(o.target);
        const t = has(T);
        if (t === undefined || !check(T, o.targetFp))
          fail(n, o.target, 'changed', 'changed since the plan was made');
        const b = has(backup);
        if (b === undefined) {
          if (!check(P, o.fp)) fail(n, o.path, 'changed', 'changed since the plan was made');
          sys(n, o.path, 'link into the journal', () => calls.link(P, backup));
          note(caused, calls, P, T);
        } else {
          // Resuming after a crash: a temporary name of T left in P's directory goes (it is T's second name).
          for (const leftover of siblingsMatching(path.dirname(P), calls)) removeLeftover(leftover, calls);
          const p = has(P);
          if (p !== undefined && p.ino === t!.ino && p.dev === t!.dev) break; // done before a crash
          if (p === undefined || p.ino !== b.ino)
            fail(n, o.path, 'changed', 'changed after it was journaled');
          note(caused, calls, P, T);
        }
        const pNow = fingerprintOf(has(P)!);
        const tNow = fingerprintOf(has(T)!);
        const r = replaceWithLink(T, P, { survivor: tNow, target: pNow }, calls);
        if (!r.ok) fail(n, o.path, r.reason === 'changed' ? 'changed' : 'errno', r.message);
        note(caused, calls, P, backup);
        break;
      }
      case 'move': {
        const A = abs(o.from);
        const B = abs(o.to);
        const b = has(B);
        const ours = b !== undefined && b.ino.toString() === o.fp.ino && b.dev.toString() === o.fp.dev;
        if (has(backup) !== undefined) {
          if (!ours) fail(n, o.to, 'changed', 'changed after it was journaled');
          break;
        }
        if (b !== undefined && !ours) fail(n, o.to, 'exists', 'exists (the plan needs it absent)');
        if (!check(A, o.fp)) fail(n, o.from, 'changed', 'changed since the plan was made');
        if (!ours) {
          sys(n, o.to, 'link', () => calls.link(A, B));
          note(caused, calls, A);
        }
        sys(n, o.from, 'rename into the journal', () => calls.rename(A, backup));
        note(caused, calls, B);
        break;
      }
      case 'write':
      case 'zip': {
        const P = abs(o.path);
        const made = `${backup}.new`;
        const m = has(made);
        const p = has(P);
        if (m !== undefined && p !== undefined && p.ino === m.ino && p.dev === m.dev) break;
        if (p !== undefined) fail(n, o.path, 'exists', 'exists (the plan needs it absent)');
        if (m === undefined) {
          const data = ctx.content(o, n);
          const tmp = `${backup}.tmp`;
          if (has(tmp) !== undefined) sys(n, o.path, 'unlink', () => calls.unlink(tmp));
          sys(n, o.path, 'write', () => calls.writeNew(tmp, data, o.mode));
          sys(n, o.path, 'rename', () => calls.rename(tmp, made));
        }
        sys(n, o.path, 'link', () => calls.link(made, P));
        break;
      }
      case 'mkdir': {
        const D = abs(o.path);
        const intent = `${backup}.mkdir`;
        if (has(intent) === undefined) {
          if (has(D) !== undefined) fail(n, o.path, 'exists', 'exists (the plan needs it absent)');
          sys(n, o.path, 'journal', () => calls.writeNew(intent, new Uint8Array(0), 0o600));
        } else if (has(D)?.isDirectory() === true) break;
        sys(n, o.path, 'mkdir', () => calls.mkdir(D, o.mode));
        break;
      }
      case 'rmdir': {
        const D = abs(o.path);
        if (has(backup) !== undefined) {
          if (has(D) !== undefined) fail(n, o.path, 'exists', 'reappeared after it was journaled');
          break;
        }
        if (!check(D, o.fp)) fail(n, o.path, 'changed', 'changed since the plan was made');
        sys(n, o.path, 'rename into the journal', () => calls.rename(D, backup));
        // Why: a file created in it since it was planned would otherwise go with the journal at commit.
        if (calls.readdir(backup).length > 0) {
          sys(n, o.path, 'rename back', () => calls.rename(backup, D));
          fail(n, o.path, 'not-empty', 'not empty (something was added since the plan was made)');
        }
        break;
      }
    }
    onStep?.(n + 1);
  });
  calls.writeNew(path.join(j, COMPLETE), new Uint8Array(0), 0o600);
}

export interface RollbackResult {
  restored: number;
  /** Paths that could not be restored because something else is there now (left in the journal). */
  conflicts: string[];
}

/**
 * Undo what the journal shows was done, last operation first, then delete the journal. Idempotent: a
 * rollback killed midway is finished by the next one. A path someone else has filled since is not
 * clobbered: it is reported, and the journal is kept so nothing is lost.
 */
export function rollbackJournal(
  root: string,
  ops: readonly PlanOperation[],
  calls: JournalCalls = realJournalCalls,
): RollbackResult {
  const j = journalPath(root);
  const abs = (rel: string): string => path.join(root, rel);
  const has = (p: string): fs.BigIntStats | undefined => calls.lstat(p);
  let restored = 0;
  const conflicts: string[] = [];
  for (let n = ops.length - 1; n >= 0; n--) {
    const o = ops[n]!;
    const backup = path.join(j, String(n));
    switch (o.op) {
      case 'remove':
      case 'rmdir': {
        if (has(backup) === undefined) break;
        if (has(abs(o.path)) !== undefined) {
          conflicts.push(o.path);
          break;
        }
        calls.rename(backup, abs(o.path));
        restored++;
        break;
      }
      case 'link': {
        const P = abs(o.path);
        const b = has(backup);
        for (const leftover of siblingsMatching(path.dirname(P), calls)) removeLeftover(leftover, calls);
        if (b === undefined) break;
        const p = has(P);
        if (p !== undefined && p.ino === b.ino && p.dev === b.dev) {
          // Why: rename() of two names of one inode does nothing; the replace had not happened yet.
          calls.unlink(backup);
          restored++;
          break;
        }
        const t = has(abs(o.target));
        if (p !== undefined && (t === undefined || p.ino !== t.ino || p.dev !== t.dev)) {
          conflicts.push(o.path);
          break;
        }
        calls.rename(backup, P);
        restored++;
        break;
      }
      case 'move': {
        const A = abs(o.from);
        const B = abs(o.to);
        const ino = o.fp.ino;
        if (has(backup) !== undefined) {
          if (has(A) !== undefined) {
            conflicts.push(o.from);
            break;
          }
          calls.rename(backup, A);
        }
        const a = has(A);
        const b = has(B);
        // B goes only while A is another name of the same inode: never the last name of anything.
        if (b !== undefined && b.ino.toString() === ino && a !== undefined && a.ino === b.ino) {
          calls.unlink(B);
          restored++;
        }
        break;
      }
      case 'write':
      case 'zip': {
        const made = `${backup}.new`;
        const m = has(made);
        const p = has(abs(o.path));
        if (m !== undefined && p !== undefined && p.ino === m.ino && p.dev === m.dev) {
          calls.unlink(abs(o.path));
          restored++;
        }
        if (m !== undefined) calls.unlink(made);
        if (has(`${backup}.tmp`) !== undefined) calls.unlink(`${backup}.tmp`);
        break;
      }
      case 'mkdir': {
        const intent = `${backup}.mkdir`;
        if (has(intent) === undefined) break;
        if (has(abs(o.path))?.isDirectory() === true) {
          try {
            calls.rmdir(abs(o.path));
            restored++;
          } catch (e) {
            if (errnoCode(e) !== 'ENOTEMPTY' && errnoCode(e) !== 'EEXIST') throw e;
            conflicts.push(o.path);
            break;
          }
        }
        calls.unlink(intent);
        break;
      }
    }
  }
  if (conflicts.length === 0) deleteJournal(root, calls);
  return { restored, conflicts };
}

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
export function commitJournal(root: string, calls: JournalCalls = realJournalCalls): void {
  const j = journalPath(root);
  if (has(calls, path.join(j, COMMITTING)) === undefined)
    calls.writeNew(path.join(j, COMMITTING), new Uint8Array(0), 0o600);
  deleteJournal(root, calls);
}

function has(calls: JournalCalls, p: string): fs.BigIntStats | undefined {
  return calls.lstat(p);
}

/**
 * Delete the journal directory: its files, and the (empty) directories of rmdir operations. The plan and
 * the committing marker go last, so a deletion killed midway is recognized and finished by the next run.
 */
function deleteJournal(root: string, calls: JournalCalls): void {
  const j = journalPath(root);
  const last = new Set([PLAN_FILE, COMMITTING]);
  for (const name of calls.readdir(j)) {
    if (last.has(name)) continue;
    const p = path.join(j, name);
    if (has(calls, p)?.isDirectory() === true) calls.rmdir(p);
    else calls.unlink(p);
  }
  for (const name of [PLAN_FILE, COMMITTING])
    if (has(calls, path.join(j, name)) !== undefined) calls.unlink(path.join(j, name));
  calls.rmdir(j);
}
