/**
 * Placing bytecode caches (for `compile`): a new cache is written to an exclusively created temporary
 * sibling and renamed over its name, so no partial .pyc is ever visible under its final name, also if the
 * process is killed; an identical level is a hardlink to that file, made the same way (link to a temporary,
 * rename over). Like py_compile, an existing cache name that is a symlink or not a regular file is refused,
 * never written through. No fsync, as py_compile: a cache is derived data. Part of src/fsops.
 */
import fs from 'node:fs';
import { errnoCode } from '../errors.js';
import { tempSibling } from './temp.js';

const temp = (dest: string): string => tempSibling(dest, 'cache');

export class CacheWriteError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Refuse a cache name that exists as anything but a regular file (py_compile's FileExistsError). */
function checkDest(dest: string): void {
  const st = fs.lstatSync(dest, { throwIfNoEntry: false });
  if (st === undefined || st.isFile()) return;
  const what = st.isSymbolicLink() ? 'is a symlink' : 'is not a regular file';
  throw new CacheWriteError('EEXIST', `${dest} ${what}: not replaced`);
}

/** Create the __pycache__ directory when missing; refuse one that is a symlink or not a directory. */
export function ensureCacheDir(dir: string): void {
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (st === undefined) {
    try {
      fs.mkdirSync(dir);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw wrap(e, dir);
    }
    return;
  }
  if (!st.isDirectory()) throw new CacheWriteError('ENOTDIR', `${dir} is not a directory (never followed)`);
}

function wrap(e: unknown, p: string): CacheWriteError {
  return new CacheWriteError(errnoCode(e) ?? 'EIO', `cannot write ${p}: ${(e as Error).message}`);
}

/** Write `data` as `dest` atomically with py_compile's mode; returns the new file's inode. */
export function writeCache(dest: string, data: Uint8Array, mode: number): number {
  checkDest(dest);
  const tmp = temp(dest);
  let fd = -1;
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
    fs.writeSync(fd, data);
    const ino = fs.fstatSync(fd).ino;
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, dest);
    return ino;
  } catch (e) {
    if (fd !== -1) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e instanceof CacheWriteError ? e : wrap(e, dest);
  }
}

/**
 * Make `dest` a hardlink of `existing` (just written, inode `ino`): link to a temporary sibling, check the
 * temporary is that inode (the file was not swapped since), rename over `dest`.
 */
export function linkCache(existing: string, ino: number, dest: string): void {
  checkDest(dest);
  const tmp = temp(dest);
  try {
    fs.linkSync(existing, tmp);
    if (fs.lstatSync(tmp).ino !== ino)
      throw new CacheWriteError('ECHANGED', `${existing} changed while compiling`);
    fs.renameSync(tmp, dest);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e instanceof CacheWriteError ? e : wrap(e, dest);
  }
}
