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
