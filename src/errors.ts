/**
 * Typed errors of the library core. The core never prints and never exits: it throws these, and only the
 * command-line entry point (src/cli/main.ts) turns them into a one-line message, an optional hint and an
 * exit code.
 */
import fs from 'node:fs';

/** Stable machine-readable error codes. */
export type ErrorCode =
  | 'ENOTFOUND' // a path given by the user does not exist
  | 'ENOTDIR' // a path given by the user is not a directory
  | 'EACCES' // a path given by the user cannot be read
  | 'EINTERP' // the interpreter does not exist, cannot run, or is not Python
  | 'EUSAGE' // bad arguments
  | 'ELOCKED' // another pyfloppy run holds the tree
  | 'EUNSAFE' // a directory on the way changed into a symlink, moved, or a journal cannot be trusted
  | 'EIO' // the file system refused (ENOSPC, EROFS, EPERM on an immutable file, ...)
  | 'ENOSPC' // the file system is full (ENOSPC, EDQUOT)
  | 'EROFS' // the file system is mounted read-only
  | 'EPERM' // the operation is not permitted (an immutable or append-only file, ...)
  | 'ENAMETOOLONG' // a path longer than PATH_MAX or a name longer than NAME_MAX
  | 'EIMAGE' // a container image that is truncated, corrupt, unsafe or of an unknown kind
  | 'EPACKAGE' // a package or bundle (wheel, zip, tar, rpm, deb) that is truncated, corrupt or unsafe
  | 'EINTERNAL';

export class PyfloppyError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** Exit code the CLI uses: 2 for usage and environment errors. */
  readonly exitCode: number;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; cause?: unknown; exitCode?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PyfloppyError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 2;
  }
}

export function isPyfloppyError(e: unknown): e is PyfloppyError {
  return e instanceof PyfloppyError;
}

/** The errno code of a Node.js system error, or undefined. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || !('code' in e)) return undefined;
  return typeof e.code === 'string' ? e.code : undefined;
}

/** Read a text file the user named (a plan, a baseline, a split), with the CLI's one-line errors. */
export function readUserFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = errnoCode(e);
    throw new PyfloppyError(
      code === 'ENOENT' ? 'ENOTFOUND' : 'EACCES',
      `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      { cause: e },
    );
  }
}

/** System error codes kept as they are; the others become ENOTFOUND, ENOTDIR or EIO. */
const KEPT: Record<string, ErrorCode> = {
  ENOENT: 'ENOTFOUND',
  ENOTDIR: 'ENOTDIR',
  EACCES: 'EACCES',
  EPERM: 'EPERM',
  ENOSPC: 'ENOSPC',
  EDQUOT: 'ENOSPC',
  EROFS: 'EROFS',
  ENAMETOOLONG: 'ENAMETOOLONG',
};

const HINTS: Partial<Record<ErrorCode, string>> = {
  ENOSPC: 'the file system is full: free some space and run the command again',
  EROFS: 'the file system is mounted read-only: remount it read-write, or work on a copy',
  EPERM:
    'an immutable or append-only file (chattr +i, +a; lsattr shows them) or a file system that forbids it',
  EACCES: 'run as a user who may read and write there',
  ENAMETOOLONG: 'a path longer than PATH_MAX (4096 bytes) or a name longer than 255 bytes',
};

/**
 * A tree found not writable before a run changes it (`e`: what access(W_OK) threw). A read-only mount says
 * so, with how to get past it: running as another user would not help there.
 */
export function notWritable(dir: string, e: unknown): PyfloppyError {
  if (errnoCode(e) === 'EROFS')
    return new PyfloppyError('EROFS', `${dir}: read-only file system (EROFS)`, {
      cause: e,
      hint: HINTS.EROFS,
    });
  return new PyfloppyError('EACCES', `${dir}: not writable`, {
    cause: e,
    hint: 'run as the owner of the tree',
  });
}

/**
 * A Node.js system error (an errno from a system call: it has a code like ENOSPC and the call's name) as a
 * PyfloppyError naming the path and the errno, or undefined for anything else: a TypeError or a Node
 * ERR_* code is a bug and stays one.
 */
export function fromSystemError(e: unknown): PyfloppyError | undefined {
  const code = errnoCode(e);
  if (code === undefined || !/^E[A-Z0-9]+$/.test(code)) return undefined;
  const x = e as NodeJS.ErrnoException & { dest?: string };
  if (typeof x.syscall !== 'string') return undefined;
  // Why: Node has no strerror(); its message is "ENOSPC: no space left on device, write '/p'".
  const what = /^E[A-Z0-9]+: ([^,]+)/.exec(x.message)?.[1] ?? code.toLowerCase();
  const where =
    typeof x.path === 'string' ? `${x.path}${typeof x.dest === 'string' ? ` -> ${x.dest}` : ''}: ` : '';
  const ours = KEPT[code] ?? 'EIO';
  const hint = HINTS[ours];
  return new PyfloppyError(ours, `${where}${what} (${code} in ${x.syscall})`, {
    cause: e,
    ...(hint === undefined ? {} : { hint }),
  });
}
