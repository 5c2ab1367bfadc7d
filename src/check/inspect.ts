/**
 * Inspect one bytecode cache as the import system would: its header (magic, flags, mtime and size or source
 * hash), its source's state as importlib's validation sees it, and the co_filename of every code object in
 * it. Read-only, pure apart from reading the two files; runs in the main thread or in a scan worker.
 *
 * Both files are opened with O_NOFOLLOW: a source that is a symlink is not read or stat'ed through (it could
 * point outside the roots), and is reported as not compared.
 */
import fs from 'node:fs';
import { codeObjects, MarshalError, readMarshal } from '../python/marshal.js';
import { type Invalidation, parsePycHeader, PycError, sourceHash } from '../python/pyc.js';

/** What importlib's validation of a cache needs to know about its source. */
export type SourceState =
  | { state: 'regular'; mtime: number; size: number; hashMatches?: boolean }
  | { state: 'missing' | 'symlink' | 'not-given' }
  | { state: 'unreadable'; code: string };

export type Inspection =
  | {
      ok: true;
      magic: number;
      version: string;
      cacheTag: string | null;
      invalidation: Invalidation;
      /** Timestamp caches: the source mtime and size the header records. */
      mtime?: number;
      sourceSize?: number;
      source: SourceState;
      /** Distinct co_filename values, the module's own first; null where the marshal layout is not read (< 3.6). */
      filenames: string[] | null;
    }
  | { ok: false; reason: PycError['reason'] | 'bad-marshal'; message: string; cacheTag?: string | null }
  | { ok: false; reason: 'unreadable'; code: string; message: string };

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;

function readNoFollow(p: string | Buffer): Buffer {
  const fd = fs.openSync(p, OPEN_FLAGS);
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The integer importlib compares with a timestamp cache's mtime field: int(os.stat(source).st_mtime), where
 * CPython computes st_mtime as the double sec + nsec * 1e-9 (so a time a few nanoseconds before a whole
 * second rounds up to it, exactly as here), then & 0xFFFFFFFF.
 */
export function pythonMtime(mtimeNs: bigint): number {
  let sec = mtimeNs / 1_000_000_000n;
  let nsec = mtimeNs % 1_000_000_000n;
  if (nsec < 0n) {
    // struct timespec keeps tv_nsec in [0, 1e9): times before 1970 borrow a second.
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  return Math.trunc(Number(sec) + Number(nsec) * 1e-9) >>> 0;
}

function sourceState(source: string | Buffer | null): SourceState {
  if (source === null) return { state: 'not-given' };
  let fd = -1;
  try {
    fd = fs.openSync(source, OPEN_FLAGS);
    const st = fs.fstatSync(fd, { bigint: true });
    if (!st.isFile()) return { state: 'missing' };
    return { state: 'regular', mtime: pythonMtime(st.mtimeNs), size: Number(st.size) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
    if (code === 'ELOOP') return { state: 'symlink' };
    return { state: 'unreadable', code };
  } finally {
    if (fd !== -1) fs.closeSync(fd);
  }
}

function hashState(source: string | Buffer, expected: Buffer, magic: number, base: SourceState): SourceState {
  if (base.state !== 'regular') return base;
  try {
    return { ...base, hashMatches: sourceHash(readNoFollow(source), magic).equals(expected) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    return code === 'ELOOP' ? { state: 'symlink' } : { state: 'unreadable', code };
  }
}

/** What a cache's bytes alone tell: its inspection but for its source's state, and a hash-based header's hash. */
export type PycFacts =
  | (Omit<Extract<Inspection, { ok: true }>, 'source'> & { expectedHash?: Buffer })
  | Exclude<Inspection, { ok: true }>;

/** Inspect the cache at `pyc`, whose source importlib would look for at `source` (null: none to look for). */
export function inspectPyc(pyc: string | Buffer, source: string | Buffer | null): Inspection {
  let data: Buffer;
  try {
    data = readNoFollow(pyc);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    return { ok: false, reason: 'unreadable', code, message: (e as Error).message };
  }
  const facts = inspectBytes(data);
  if (!facts.ok) return facts;
  let state = sourceState(source);
  if (facts.expectedHash !== undefined && source !== null)
    state = hashState(source, facts.expectedHash, facts.magic, state);
  return withSource(facts, state);
}

/** A cache's facts joined with its source's state, as an Inspection. */
export function withSource(facts: Extract<PycFacts, { ok: true }>, source: SourceState): Inspection {
  const { expectedHash: _hash, ...rest } = facts;
  return { ...rest, source };
}

/** Header and co_filenames of a cache's bytes (pure: the image reader calls it on a member's contents). */
export function inspectBytes(data: Buffer): PycFacts {
  let header;
  try {
    header = parsePycHeader(data);
  } catch (e) {
    if (e instanceof PycError) return { ok: false, reason: e.reason, message: e.message };
    throw e;
  }
  const [major, minor] = header.magic.version.split('.').map(Number) as [number, number];
  let filenames: string[] | null = null;
  if (major === 3 && minor >= 6) {
    try {
      const seen = new Set<string>();
      for (const code of codeObjects(readMarshal(data, minor, header.headerSize))) seen.add(code.filename);
      filenames = [...seen];
    } catch (e) {
      if (!(e instanceof MarshalError)) throw e;
      return {
        ok: false,
        reason: 'bad-marshal',
        message: `the code after the header cannot be read: ${e.message}`,
        cacheTag: header.magic.cacheTag,
      };
    }
  }
  return {
    ok: true,
    magic: header.magic.number,
    version: header.magic.version,
    cacheTag: header.magic.cacheTag,
    invalidation: header.invalidation,
    ...(header.mtime === undefined ? {} : { mtime: header.mtime }),
    ...(header.sourceSize === undefined ? {} : { sourceSize: header.sourceSize }),
    ...(header.invalidation === 'timestamp' ? {} : { expectedHash: header.sourceHash! }),
    filenames,
  };
}
