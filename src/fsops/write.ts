/**
 * Writing a new file (a report, a plan) atomically: the data goes to a temporary sibling created exclusively
 * (O_EXCL: never an existing name), is flushed, and is renamed over the destination, so a reader sees the
 * old file or the whole new one, never a part. Part of src/fsops, the only code that writes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errnoCode, PyfloppyError } from '../errors.js';
import { tempName } from './temp.js';

export function writeFileAtomic(dest: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = path.dirname(path.resolve(dest));
  let tmp = '';
  let fd = -1;
  for (let attempt = 0; attempt < 100 && fd === -1; attempt++) {
    tmp = path.join(dir, tempName('write'));
    try {
      fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') continue;
      throw writeError(dest, e);
    }
  }
  if (fd === -1) throw new PyfloppyError('EUSAGE', `cannot write ${dest}: no free temporary name`);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, dest);
  } catch (e) {
    if (fd !== -1) fs.closeSync(fd);
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Why: best effort; the temporary holds only our own partial output.
    }
    throw writeError(dest, e);
  }
}

function writeError(dest: string, e: unknown): PyfloppyError {
  const code = errnoCode(e);
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'ENOENT'
        ? 'no such directory'
        : (e as Error).message;
  return new PyfloppyError(
    code === 'EACCES' || code === 'EPERM' ? 'EACCES' : 'ENOTFOUND',
    `cannot write ${dest}: ${why}`,
    { cause: e },
  );
}

/**
 * A private, empty scratch directory outside any tree (the working directory of verify's interpreters), and
 * its removal. Only pyfloppy's own directory is ever removed: the caller passes what this returned.
 */
export function makeScratchDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeScratchDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
