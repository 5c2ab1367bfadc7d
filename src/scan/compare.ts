/**
 * Byte comparison of two files of the same size, reading both in chunks and stopping at the first
 * difference. Read-only. Used by the main thread and by the scan workers.
 */
import fs from 'node:fs';

const CHUNK = 1 << 20;
let bufA: Buffer | undefined;
let bufB: Buffer | undefined;

/** Outcome of comparing: identical, different, or one of the files could not be read (with its errno). */
export type CompareResult = { equal: boolean } | { error: string; code: string; path: string };

export function compareFiles(a: string | Buffer, b: string | Buffer, size: number): CompareResult {
  bufA ??= Buffer.allocUnsafe(CHUNK);
  bufB ??= Buffer.allocUnsafe(CHUNK);
  let fa = -1;
  let fb = -1;
  let current: string | Buffer = a;
  try {
    fa = fs.openSync(a, 'r');
    current = b;
    fb = fs.openSync(b, 'r');
    let pos = 0;
    while (pos < size) {
      const want = Math.min(CHUNK, size - pos);
      current = a;
      const na = readFull(fa, bufA, want, pos);
      current = b;
      const nb = readFull(fb, bufB, want, pos);
      // Why: a file that shrank or grew since it was stat'ed is not proven identical.
      if (na !== want || nb !== want) return { equal: false };
      if (bufA.compare(bufB, 0, want, 0, want) !== 0) return { equal: false };
      pos += want;
    }
    return { equal: true };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return {
      error: err.message,
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
