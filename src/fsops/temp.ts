/**
 * Names for pyfloppy's temporary siblings (`.pyfloppy-PID-THREAD-KN.tmp`), unique per process and per
 * thread. Part of src/fsops.
 *
 * Why the thread id: dedup links in worker threads, which share the process id but each have their own module
 * state. With `PID-N` alone, two threads linking in one directory chose the same name; one thread's "drop my
 * temporary" then removed the other's, whose rename failed with ENOENT (seen on a 3.8 stdlib copy in CI).
 */
import path from 'node:path';
import { threadId } from 'node:worker_threads';

let counter = 0;

/** What the temporary is, in its name: a second name of an existing file, a new cache, a new file. */
export type TempKind = 'link' | 'cache' | 'write';
const LETTER: Record<TempKind, string> = { link: '', cache: 'c', write: 'w' };

export function tempName(kind: TempKind): string {
  return `.pyfloppy-${process.pid}-${threadId}-${LETTER[kind]}${counter++}.tmp`;
}

export function tempSibling(dest: string, kind: TempKind): string {
  return path.join(path.dirname(dest), tempName(kind));
}

/**
 * Link temporaries: another name of a file that has one, never content of its own, so a run after a crash may
 * remove them. The `PID-N` form is what versions before the thread id wrote.
 */
export const LINK_TEMP_NAME = /^\.pyfloppy-\d+(?:-\d+)?-\d+\.tmp$/;

/**
 * Every temporary name pyfloppy makes, of every kind and in both forms (`PID-THREAD-[c|w]N`, the older
 * `PID-N`); the first group is the pid of the process that made it.
 */
export const ANY_TEMP_NAME = /^\.pyfloppy-(\d+)(?:-\d+)?-[cw]?\d+\.tmp$/;

/** Whether a process with this pid runs now (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The temporary `name` was left by a run that is over: it matches ANY_TEMP_NAME and its pid is neither this
 * process nor a live one. (A pid reused since by an unrelated process keeps its temporary: reported by
 * `check`, removed by a later run.)
 */
export function isLeftoverTemp(name: string): boolean {
  const m = ANY_TEMP_NAME.exec(name);
  if (m === null) return false;
  const pid = Number(m[1]);
  return pid !== process.pid && !pidAlive(pid);
}
