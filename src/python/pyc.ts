/**
 * CPython's .pyc format, as pure functions: the magic numbers of each release (importlib's
 * _bootstrap_external history), the header layouts (8 bytes before 3.3, 12 bytes in 3.3-3.6, PEP 552's 16
 * bytes with flags from 3.7), and importlib.util.source_hash (SipHash keyed with the magic number).
 * Tests check every piece against the interpreters on the machine.
 */

/**
 * Each release's range of magic numbers (alphas and betas used the lower ones) and its cache tag. The last
 * number of a range is the release's own where the release is final; a range ends where the next starts.
 */
export const MAGIC_RANGES: ReadonlyArray<{ version: string; first: number; last: number }> = [
  { version: '2.7', first: 62171, last: 62211 },
  { version: '3.0', first: 3000, last: 3131 },
  { version: '3.1', first: 3141, last: 3151 },
  { version: '3.2', first: 3160, last: 3180 },
  { version: '3.3', first: 3190, last: 3230 },
  { version: '3.4', first: 3250, last: 3310 },
  { version: '3.5', first: 3320, last: 3351 },
  { version: '3.6', first: 3360, last: 3379 },
  { version: '3.7', first: 3390, last: 3394 },
  { version: '3.8', first: 3400, last: 3413 },
  { version: '3.9', first: 3420, last: 3425 },
  { version: '3.10', first: 3430, last: 3439 },
  { version: '3.11', first: 3450, last: 3495 },
  { version: '3.12', first: 3500, last: 3531 },
  { version: '3.13', first: 3550, last: 3571 },
  // 3.14 reserved 3600-3649 ("Python 3.15 will start with 3650").
  { version: '3.14', first: 3600, last: 3649 },
];

export interface MagicInfo {
  /** The 16-bit number (little-endian in the first two bytes, followed by \r\n). */
  number: number;
  version: string;
  /** 'cpython-313'; null for Python 2 (no __pycache__). */
  cacheTag: string | null;
}

export function magicInfo(number: number): MagicInfo | undefined {
  const r = MAGIC_RANGES.find((m) => number >= m.first && number <= m.last);
  if (r === undefined) return undefined;
  const [major, minor] = r.version.split('.');
  return { number, version: r.version, cacheTag: major === '2' ? null : `cpython-${major}${minor}` };
}

export type Invalidation = 'timestamp' | 'checked-hash' | 'unchecked-hash';

export interface PycHeader {
  magic: MagicInfo;
  /** 8, 12 or 16 bytes. */
  headerSize: number;
  /** PEP 552 flags (3.7+), else 0. */
  flags: number;
  invalidation: Invalidation;
  /** Source mtime in seconds (timestamp pycs). */
  mtime?: number;
  /** Source size modulo 2^32 (timestamp pycs, 3.3+). */
  sourceSize?: number;
  /** importlib.util.source_hash of the source (hash-based pycs), 8 bytes. */
  sourceHash?: Buffer;
}

export class PycError extends Error {
  constructor(
    readonly reason: 'truncated' | 'not-pyc' | 'unknown-magic' | 'bad-flags',
    message: string,
  ) {
    super(message);
    this.name = 'PycError';
  }
}

/** Parse a .pyc header; throws PycError for a truncated file, a non-pyc, an unknown magic or bad flags. */
export function parsePycHeader(data: Uint8Array): PycHeader {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < 4)
    throw new PycError('truncated', `truncated: ${b.length} bytes, a .pyc header has 8 or more`);
  if (b[2] !== 0x0d || b[3] !== 0x0a)
    throw new PycError('not-pyc', 'not a .pyc: the magic number does not end in \\r\\n');
  const number = b.readUInt16LE(0);
  const magic = magicInfo(number);
  if (magic === undefined) throw new PycError('unknown-magic', `unknown magic number ${number}`);
  const [major, minor] = magic.version.split('.').map(Number) as [number, number];
  const pep552 = major > 3 || (major === 3 && minor >= 7);
  const headerSize = pep552 ? 16 : major === 3 && minor >= 3 ? 12 : 8;
  if (b.length < headerSize) {
    throw new PycError(
      'truncated',
      `truncated: ${b.length} bytes, a Python ${magic.version} header has ${headerSize}`,
    );
  }
  if (!pep552) {
    return {
      magic,
      headerSize,
      flags: 0,
      invalidation: 'timestamp',
      mtime: b.readUInt32LE(4),
      ...(headerSize === 12 ? { sourceSize: b.readUInt32LE(8) } : {}),
    };
  }
  const flags = b.readUInt32LE(4);
  if ((flags & ~0b11) !== 0)
    throw new PycError('bad-flags', `invalid flags ${flags} (only bits 0 and 1 are defined)`);
  if ((flags & 1) === 0) {
    if (flags !== 0)
      throw new PycError('bad-flags', `invalid flags ${flags}: check_source without hash-based`);
    return {
      magic,
      headerSize,
      flags,
      invalidation: 'timestamp',
      mtime: b.readUInt32LE(8),
      sourceSize: b.readUInt32LE(12),
    };
  }
  return {
    magic,
    headerSize,
    flags,
    invalidation: (flags & 2) !== 0 ? 'checked-hash' : 'unchecked-hash',
    sourceHash: Buffer.from(b.subarray(8, 16)),
  };
}

// SipHash-1-3 / SipHash-2-4 on 64-bit lanes held as BigInt (clear, and fast enough for checking sources).
const MASK = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & MASK;

function sipHash(k0: bigint, k1: bigint, data: Uint8Array, cRounds: number, dRounds: number): bigint {
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = (): void => {
    v0 = (v0 + v1) & MASK;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const full = data.length - (data.length % 8);
  for (let i = 0; i < full; i += 8) {
    const m = view.readBigUInt64LE(i);
    v3 ^= m;
    for (let r = 0; r < cRounds; r++) round();
    v0 ^= m;
  }
  let last = BigInt(data.length & 0xff) << 56n;
  for (let i = full; i < data.length; i++) last |= BigInt(data[i]!) << BigInt(8 * (i - full));
  v3 ^= last;
  for (let r = 0; r < cRounds; r++) round();
  v0 ^= last;
  v2 ^= 0xffn;
  for (let r = 0; r < dRounds; r++) round();
  return (v0 ^ v1 ^ v2 ^ v3) & MASK;
}

/**
 * importlib.util.source_hash(source) of the interpreter whose magic number is `magic`: CPython's
 * _Py_KeyedHash, SipHash keyed with (the magic's 4 bytes read as a little-endian integer, 0), as 8
 * little-endian bytes. SipHash-1-3 from 3.11 (where CPython moved its hashing to it), SipHash-2-4 before.
 */
export function sourceHash(source: Uint8Array, magic: number): Buffer {
  const key = BigInt(magic) | (0x0a0dn << 16n);
  const info = magicInfo(magic);
  const [, minor] = (info?.version ?? '3.13').split('.').map(Number) as [number, number];
  const h = minor >= 11 ? sipHash(key, 0n, source, 1, 3) : sipHash(key, 0n, source, 2, 4);
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(h);
  return out;
}
