/**
 * Byte comparison of two files of the same size, reading both in chunks and stopping at the first
 * difference. Read-only. Used by the main thread and by the scan workers.
 *
 * Files are opened with O_NOFOLLOW: a name that became a symlink since the scan is not read through. With
 * fingerprints asked for, each file's identity (fstat of the open descriptor) is taken before reading and
 * checked again after: a file that changed while it was read is not called identical.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { type Fingerprint, fingerprintOf, unchanged } from '../fsops/fingerprint.js';

const CHUNK = 1 << 20;
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;
let bufA: Buffer | undefined;
let bufB: Buffer | undefined;

/** Outcome of comparing: identical or not (with fingerprints when asked), or a file could not be read. */
export type CompareResult =
  | { equal: boolean; a?: Fingerprint; b?: Fingerprint; changed?: boolean }
  | { error: string; code: string; path: string };

export function compareFiles(
  a: string | Buffer,
  b: string | Buffer,
  size: number,
  withFingerprints = false,
): CompareResult {
  bufA ??= Buffer.allocUnsafe(CHUNK);
  bufB ??= Buffer.allocUnsafe(CHUNK);
  let fa = -1;
  let fb = -1;
  let current: string | Buffer = a;
  try {
    fa = fs.openSync(a, OPEN_FLAGS);
    current = b;
    fb = fs.openSync(b, OPEN_FLAGS);
    let fpA: Fingerprint | undefined;
    let fpB: Fingerprint | undefined;
    if (withFingerprints) {
      fpA = fingerprintOf(fs.fstatSync(fa, { bigint: true }));
      fpB = fingerprintOf(fs.fstatSync(fb, { bigint: true }));
      if (fpA.size !== BigInt(size) || fpB.size !== BigInt(size))
        return { equal: false, a: fpA, b: fpB, changed: true };
    }
    let pos = 0;
    while (pos < size) {
      const want = Math.min(CHUNK, size - pos);
      current = a;
      const na = readFull(fa, bufA, want, pos);
      current = b;
      const nb = readFull(fb, bufB, want, pos);
      // Why: a file that shrank or grew since it was stat'ed is not proven identical.
      if (na !== want || nb !== want) return { equal: false, changed: true };
      if (bufA.compare(bufB, 0, want, 0, want) !== 0) return { equal: false };
      pos += want;
    }
    if (fpA !== undefined && fpB !== undefined) {
      const changed =
        !unchanged(fpA, fingerprintOf(fs.fstatSync(fa, { bigint: true }))) ||
        !unchanged(fpB, fingerprintOf(fs.fstatSync(fb, { bigint: true })));
      return changed ? { equal: false, a: fpA, b: fpB, changed: true } : { equal: true, a: fpA, b: fpB };
    }
    return { equal: true };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return {
      error: err.code === 'ELOOP' ? 'is a symlink now (not followed)' : err.message,
      code: err.code ?? 'EIO',
      path: typeof current === 'string' ? current : current.toString('utf8'),
    };
  } finally {
    if (fa !== -1) fs.closeSync(fa);
    if (fb !== -1) fs.closeSync(fb);
  }
}

function readFull(fd: number, buf: Buffer, want: number, pos: number): number {
  let got = 0;
  while (got < want) {
    const n = fs.readSync(fd, buf, got, want - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * The size of a file's content compressed with raw deflate at `level` (measured by compressing it), or -1
 * when it cannot be read (O_NOFOLLOW: a name that became a symlink is not followed).
 */
export function deflatedSize(p: string | Buffer, level: number): number {
  let fd = -1;
  try {
    fd = fs.openSync(p, OPEN_FLAGS);
    const data = fs.readFileSync(fd);
    return zlib.deflateRawSync(data, { level }).length;
  } catch {
    return -1;
  } finally {
    if (fd !== -1) fs.closeSync(fd);
  }
}
