/**
 * One changing run per tree (part of src/fsops). `apply`, `--rollback`, `--commit`, `dedup` and `compile`
 * hold `.pyfloppy-lock` in the tree's root while they change it: created with O_EXCL (via link(), so that it
 * appears whole), holding the pid, the process's start time (field 22 of /proc/PID/stat, so that a recycled
 * pid is not taken for the holder) and the command. A lock whose process is gone is stale: it is removed
 * (only while it is still the same inode that was read) and taken.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode, fromSystemError, PyfloppyError } from '../errors.js';
import { tempName } from './temp.js';

export const LOCK_FILE = '.pyfloppy-lock';

interface Holder {
  pid: number;
  start: string | null;
  command: string;
  since: string;
}

export interface TreeLock {
  /** The lock file, or null where the tree cannot be written at all (read-only: nobody can change it). */
  file: string | null;
  release(): void;
}

/** The start time of a process in clock ticks since boot, or null where /proc does not say. */
function startTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Why: the command name (field 2) may hold spaces and parentheses; fields count from its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(h: Holder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if (errnoCode(e) === 'ESRCH') return false;
  }
  const start = startTime(h.pid);
  return h.start === null || start === null || start === h.start;
}

function readHolder(file: string): { holder: Holder | null; ino: bigint } | null {
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const ino = fs.fstatSync(fd, { bigint: true }).ino;
      try {
        return { holder: JSON.parse(fs.readFileSync(fd, 'utf8')) as Holder, ino };
      } catch {
        return { holder: null, ino };
      }
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Take the lock of `root` for `command`, or throw ELOCKED naming who holds it. `dir` is where the lock
 * file is made (default: the root itself; an anchored name of it where the caller has one).
 */
export function lockTree(root: string, command: string, dir: string = root): TreeLock {
  const file = path.join(dir, LOCK_FILE);
  const shown = path.join(root, LOCK_FILE);
  const holder: Holder = {
    pid: process.pid,
    start: startTime(process.pid),
    command,
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    const made = tryCreate(dir, file, shown, holder);
    if (made === 'read-only') return { file: null, release: () => undefined };
    if (made) return { file, release: () => release(file, holder) };
    const seen = readHolder(file);
    if (seen === null) continue;
    if (seen.holder !== null && alive(seen.holder))
      throw new PyfloppyError(
        'ELOCKED',
        `${root} is being changed by another run: pyfloppy ${seen.holder.command} (pid ${seen.holder.pid}, since ${seen.holder.since})`,
        { hint: `wait for it to end; if no such process runs, remove ${path.join(root, LOCK_FILE)}` },
      );
    // Stale (its process is gone) or unreadable (killed while the lock was written: never, as it is
    // linked whole; or written by hand): removed only while it is still the inode read.
    const now = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
    if (now !== undefined && now.ino === seen.ino && (seen.holder === null || !alive(seen.holder)))
      fs.unlinkSync(file);
  }
  throw new PyfloppyError('ELOCKED', `${shown}: could not take the lock (it keeps changing)`);
}

/** The lock written whole under a temporary name, then linked to its name: link() never overwrites. */
function tryCreate(dir: string, file: string, shown: string, holder: Holder): boolean | 'read-only' {
  const tmp = path.join(dir, tempName('write'));
  try {
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    try {
      fs.writeFileSync(fd, `${JSON.stringify(holder)}\n`);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    // Why: a tree nobody can write needs no lock, and each command reports the read-only tree itself.
    if (errnoCode(e) === 'EROFS' || errnoCode(e) === 'EACCES') return 'read-only';
    throw lockError(shown, e);
  }
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false;
    throw lockError(shown, e);
  } finally {
    fs.unlinkSync(tmp);
  }
}

function lockError(shown: string, e: unknown): PyfloppyError {
  const sys = fromSystemError(e);
  const why = sys === undefined ? (e as Error).message : sys.message.replace(/^.*?: (?=[a-z])/, '');
  return new PyfloppyError(sys?.code ?? 'EIO', `${shown}: cannot create the lock: ${why}`, {
    cause: e,
    ...(sys?.hint === undefined ? {} : { hint: sys.hint }),
  });
}

function release(file: string, holder: Holder): void {
  const seen = readHolder(file);
  if (seen?.holder?.pid === holder.pid && seen.holder.since === holder.since) fs.unlinkSync(file);
}
