/**
 * What a plan records of a file, and the bytes it makes from files: fingerprints (lstat, SHA-256), the gzip
 * member of a source, relocated bytecode, a zip member. Read-only; shared by `plan`, `apply` and the journal's check.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { DEFLATE_LEVEL } from '../strategies/context.js';
import { relocatePyc } from '../python/relocate.js';
import type { PlanFingerprint, WriteContent, ZipMemberOp } from './plan.js';
import type { ZipInput } from './zip.js';

export function fingerprint(abs: string, hash: boolean): PlanFingerprint {
  const st = fs.lstatSync(abs, { bigint: true });
  const fp: PlanFingerprint = {
    dev: st.dev.toString(),
    ino: st.ino.toString(),
    size: Number(st.size),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
  };
  if (hash && st.isFile()) fp.sha256 = sha256File(abs);
  return fp;
}

/** A file's fingerprint and content, read once: the content hashed for the fingerprint's SHA-256. */
export function readFingerprinted(abs: string): { fp: PlanFingerprint; data: Buffer } {
  const fp = fingerprint(abs, false);
  const data = fs.readFileSync(abs);
  fp.sha256 = sha256(data);
  return { fp, data };
}

export function sha256(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/**
 * The SHA-256 of a file, opened without following a symlink. With `size` (what lstat said a moment ago), at
 * most size + 1 bytes are read into one buffer, without asking the size again: a file that grew since hashes
 * to something else all the same.
 */
export function sha256File(abs: string, size?: number): string {
  const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const hash = crypto.createHash('sha256');
    if (size === undefined) return hash.update(fs.readFileSync(fd)).digest('hex');
    const buf = Buffer.allocUnsafe(size + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = fs.readSync(fd, buf, n, buf.length - n, null);
    return hash.update(buf.subarray(0, n)).digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/** The gzip member `write` creates for a source: zlib level 6, no name, mtime 0 (reproducible). */
export function gzipSource(data: Uint8Array): Buffer {
  return zlib.gzipSync(data, { level: DEFLATE_LEVEL });
}

/** A zip member from a planned file: its bytes (relocated when the member says so), mode and mtime. */
export function zipInput(m: ZipMemberOp, data: Buffer): ZipInput {
  const bytes = m.filename === undefined ? data : relocatePyc(data, m.filename);
  return {
    name: m.name,
    data: bytes,
    mtime: new Date(Number(BigInt(m.fp.mtimeNs) / 1_000_000n)),
    mode: 0o100644,
  };
}

/** The file a new file is made from, if any. */
export function madeFrom(c: WriteContent): { from: string; fp: PlanFingerprint } | undefined {
  if ('gzipOf' in c) return { from: c.gzipOf, fp: c.fp };
  if ('relocateOf' in c) return { from: c.relocateOf, fp: c.fp };
  return undefined;
}

/** A new file's bytes, from the bytes of the file it is made from (checked against the plan already). */
export function makeContent(c: WriteContent, data: Buffer | undefined): Buffer {
  if ('gzipOf' in c) return gzipSource(data!);
  if ('relocateOf' in c) return relocatePyc(data!, c.filename);
  if ('inline' in c) return Buffer.from(c.inline, 'base64');
  return Buffer.alloc(0);
}
