/**
 * Placing bytecode caches (for `compile`): a new cache is written to an exclusively created temporary
 * sibling and renamed over its name, so no partial .pyc is ever visible under its final name, also if the
 * process is killed; an identical level is a hardlink to that file, made the same way (link to a temporary,
 * rename over). Like py_compile, an existing cache name that is a symlink or not a regular file is refused,
 * never written through. No fsync, as py_compile: a cache is derived data. Part of src/fsops.
 *
 * Every name is relative to the root of an `Anchor` and resolved through it right before each system call:
 * a directory on the way (the package, its __pycache__) swapped for a symlink, or moved out with a symlink
 * left in its place, refuses the write (code EUNSAFE) instead of writing outside the tree. A temporary made
 * before such a swap is removed where it was made (the directory that was verified).
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { type Anchor, AnchorError } from './anchor.js';
import { at as calls } from './at.js';
import { tempName } from './temp.js';

export class CacheWriteError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const tempRel = (destRel: string): string => {
  const dir = path.posix.dirname(destRel);
  return dir === '.' ? tempName('cache') : `${dir}/${tempName('cache')}`;
};

/** Refuse a cache name that exists as anything but a regular file (py_compile's FileExistsError). */
function checkDest(anchor: Anchor, destRel: string): void {
  const st = fs.lstatSync(anchor.at(destRel), { throwIfNoEntry: false });
  if (st === undefined || st.isFile()) return;
  const what = st.isSymbolicLink() ? 'is a symlink' : 'is not a regular file';
  throw new CacheWriteError('EEXIST', `${anchor.plain(destRel)} ${what}: not replaced`);
}

/** Create the __pycache__ directory `rel` when missing; refuse one that is a symlink or not a directory. */
export function ensureCacheDir(anchor: Anchor, rel: string): void {
  try {
    const at = anchor.at(rel);
    const st = fs.lstatSync(at, { throwIfNoEntry: false });
    if (st === undefined) {
      try {
        calls.mkdir(at);
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw e;
      }
      return;
    }
    if (!st.isDirectory())
      throw new CacheWriteError('ENOTDIR', `${anchor.plain(rel)} is not a directory (never followed)`);
  } catch (e) {
    throw wrap(e, anchor.plain(rel));
  }
}

function wrap(e: unknown, p: string): CacheWriteError {
  if (e instanceof CacheWriteError) return e;
  if (e instanceof AnchorError) return new CacheWriteError('EUNSAFE', `${p}: refused: ${e.message}`);
  return new CacheWriteError(errnoCode(e) ?? 'EIO', `cannot write ${p}: ${(e as Error).message}`);
}

/** Write `data` as `destRel` atomically with py_compile's mode; returns the new file's inode. */
export function writeCache(anchor: Anchor, destRel: string, data: Uint8Array, mode: number): number {
  const rel = tempRel(destRel);
  let tmp: string | undefined;
  let fd = -1;
  try {
    checkDest(anchor, destRel);
    tmp = anchor.at(rel);
    fd = calls.openNew(tmp, mode);
    fs.writeSync(fd, data);
    const ino = fs.fstatSync(fd).ino;
    calls.close(fd);
    fd = -1;
    // Both names checked again: the directory may have been swapped while the cache was written.
    calls.rename(anchor.at(rel), anchor.at(destRel));
    return ino;
  } catch (e) {
    if (fd !== -1) calls.close(fd);
    if (tmp !== undefined) fs.rmSync(tmp, { force: true });
    throw wrap(e, anchor.plain(destRel));
  }
}

/**
 * Make `destRel` a hardlink of `existingRel` (just written, inode `ino`): link to a temporary sibling, check
 * the temporary is that inode (the file was not swapped since), rename over `destRel`.
 */
export function linkCache(anchor: Anchor, existingRel: string, ino: number, destRel: string): void {
  const rel = tempRel(destRel);
  let tmp: string | undefined;
  try {
    checkDest(anchor, destRel);
    const from = anchor.at(existingRel);
    tmp = anchor.at(rel);
    calls.link(from, tmp);
    if (fs.lstatSync(anchor.at(rel)).ino !== ino)
      throw new CacheWriteError('ECHANGED', `${anchor.plain(existingRel)} changed while compiling`);
    calls.rename(anchor.at(rel), anchor.at(destRel));
  } catch (e) {
    if (tmp !== undefined) fs.rmSync(tmp, { force: true });
    throw wrap(e, anchor.plain(destRel));
  }
}
