/**
 * Bytecode identity: for every module cache group (one module, one __pycache__, one cache tag), whether its
 * levels are byte-identical and whether they already share an inode. Reads only candidate pairs: two paths
 * to one inode are identical without reading; files of different sizes cannot be; files of equal size are
 * compared byte for byte.
 */
import { type CompareResult, compareFiles } from '../scan/compare.js';
import type { LazyPool, WorkerReply } from '../scan/pool.js';
import type { ScanResult } from '../scan/scan.js';
import { pathOf } from '../scan/table.js';
import type { Classification } from './classify.js';
import type { Bytes } from './footprint.js';

export interface BytecodeIdentity {
  /** Module cache groups (a module with caches in one __pycache__ under one cache tag). */
  modules: number;
  /** Groups with level 0, 1, 2 present. */
  withLevel: [number, number, number];
  /** Groups whose level-0 and level-1 caches are byte-identical. */
  identical01: number;
  /** Groups whose level-1 and level-2 caches are byte-identical. */
  identical12: number;
  /** Groups where all three are identical (counted in both of the above too, as the seed counts them). */
  identical012: number;
  /** Identical pairs (0-1, 1-2) whose two names are already one inode. */
  alreadyLinked: number;
  /**
   * What `compileall --hardlink-dupes` pairing would still save: levels sorted, each compared with the
   * previous one present, and linked when identical. Bytes of the inodes that linking would free.
   */
  dedupable: Bytes & { pairs: number };
  /** Groups per cache tag. */
  tags: Record<string, number>;
  /** Files that could not be read for comparison (reported, treated as not identical). */
  unreadable: Array<{ path: string; code: string; message: string }>;
}

export interface IdentityDetail {
  summary: BytecodeIdentity;
  /** Per group: bit 0: 0=1, bit 1: 1=2, bit 2: 0=2 (byte-identical); bits 3-5: the same pairs already linked. */
  pairBits: Uint8Array;
}

/** Pairs per request sent to a worker. */
const COMPARE_BATCH = 256;
/** Below this many candidate pairs, comparing in this thread is cheaper than starting workers. */
const POOL_MIN_PAIRS = 1024;

export async function bytecodeIdentity(
  scan: ScanResult,
  c: Classification,
  lazyPool?: LazyPool,
): Promise<IdentityDetail> {
  const t = scan.table;
  const pairs = settleByNames(t, c.bytecode);
  const unreadable = settleByBytes(await compareAll(t, pairs.a, pairs.b, lazyPool), pairs);
  const { summary, pairBits } = tally(t, c, pairs.state);
  return { summary: { ...summary, unreadable }, pairBits };
}

/** Per group and pair (0-1, 1-2, 0-2): 0 different, 1 identical, 2 identical and one inode, 3 to compare. */
interface PairStates {
  state: Uint8Array;
  /** The pairs that need reading, and the slot of `state` each one settles. */
  a: number[];
  b: number[];
  slot: number[];
}

/** Phase 1: settle what names and sizes settle; collect the pairs that need reading. */
function settleByNames(t: ScanResult['table'], g: Classification['bytecode']): PairStates {
  const pairs: PairStates = { state: new Uint8Array(g.count * 3), a: [], b: [], slot: [] };
  const settle = (slot: number, a: number, b: number): void => {
    if (a === -1 || b === -1) return;
    if (t.dev[a] === t.dev[b] && t.inodeKey(a) === t.inodeKey(b)) pairs.state[slot] = 2;
    else if (t.size[a] === t.size[b]) {
      pairs.state[slot] = 3;
      pairs.a.push(a);
      pairs.b.push(b);
      pairs.slot.push(slot);
    }
  };
  for (let k = 0; k < g.count; k++) {
    const l0 = g.levels[3 * k]!;
    const l1 = g.levels[3 * k + 1]!;
    const l2 = g.levels[3 * k + 2]!;
    settle(3 * k, l0, l1);
    settle(3 * k + 1, l1, l2);
    // 0 and 2 are compared only where compileall compares them: when level 1 is absent.
    if (l1 === -1) settle(3 * k + 2, l0, l2);
  }
  return pairs;
}

/** Phase 2: the compared bytes settle the rest (an unreadable file: not identical, and reported). */
function settleByBytes(results: CompareResult[], pairs: PairStates): BytecodeIdentity['unreadable'] {
  const unreadable: BytecodeIdentity['unreadable'] = [];
  results.forEach((r, n) => {
    if ('equal' in r) pairs.state[pairs.slot[n]!] = r.equal ? 1 : 0;
    else {
      pairs.state[pairs.slot[n]!] = 0;
      unreadable.push({ path: r.path, code: r.code, message: r.error });
    }
  });
  return unreadable;
}

/** Phase 3: tally the groups: levels present, identical and linked pairs, what dedup would free. */
function tally(
  t: ScanResult['table'],
  c: Classification,
  state: Uint8Array,
): { summary: Omit<BytecodeIdentity, 'unreadable'>; pairBits: Uint8Array } {
  const g = c.bytecode;
  const pairBits = new Uint8Array(g.count);
  const summary: Omit<BytecodeIdentity, 'unreadable'> = {
    modules: g.count,
    withLevel: [0, 0, 0],
    identical01: 0,
    identical12: 0,
    identical012: 0,
    alreadyLinked: 0,
    dedupable: { pairs: 0, apparentBytes: 0, allocatedBytes: 0 },
    tags: {},
  };
  for (let k = 0; k < g.count; k++) {
    const tag = c.tags[g.tag[k]!]!;
    summary.tags[tag] = (summary.tags[tag] ?? 0) + 1;
    for (let l = 0; l < 3; l++) if (g.levels[3 * k + l] !== -1) summary.withLevel[l]!++;
    const r01 = state[3 * k]!;
    const r12 = state[3 * k + 1]!;
    const r02 = state[3 * k + 2]!;
    let bits = 0;
    if (r01 > 0) bits |= 1 | (r01 === 2 ? 8 : 0);
    if (r12 > 0) bits |= 2 | (r12 === 2 ? 16 : 0);
    if (r02 > 0) bits |= 4 | (r02 === 2 ? 32 : 0);
    pairBits[k] = bits;
    if (r01 > 0) summary.identical01++;
    if (r12 > 0) summary.identical12++;
    if (r01 > 0 && r12 > 0) summary.identical012++;
    if (r01 === 2) summary.alreadyLinked++;
    if (r12 === 2) summary.alreadyLinked++;
    addDedupable(t, summary.dedupable, g.levels[3 * k + 1]!, g.levels[3 * k + 2]!, r01, r12, r02);
  }
  return { summary, pairBits };
}

/** compileall pairing: the later level of each identical, not yet linked, consecutive pair is freed. */
function addDedupable(
  t: ScanResult['table'],
  dedupable: BytecodeIdentity['dedupable'],
  l1: number,
  l2: number,
  r01: number,
  r12: number,
  r02: number,
): void {
  for (const [r, later] of [
    [r01, l1],
    [r12, l2],
    [r02, l2],
  ] as const) {
    if (r === 1 && t.nlink[later] === 1) {
      dedupable.pairs++;
      dedupable.apparentBytes += t.size[later]!;
      dedupable.allocatedBytes += t.blocks[later]! * 512;
    }
  }
}

/**
 * Compare pairs of entries (a[k], b[k]) of equal size, in this thread or, for many pairs, in the pool.
 * With fingerprints, each result carries both files' identity as read (for acting on them later).
 */
export async function compareAll(
  t: ScanResult['table'],
  a: number[],
  b: number[],
  lazyPool?: LazyPool,
  fingerprints = false,
): Promise<CompareResult[]> {
  if (t.contents !== undefined) return a.map((x, k) => compareDigests(t, x, b[k]!));
  const n = a.length;
  const pool = n >= POOL_MIN_PAIRS ? lazyPool?.get() : undefined;
  if (pool === undefined)
    return a.map((x, k) => compareFiles(t.fsPath(x), t.fsPath(b[k]!), t.size[x]!, fingerprints));
  const pairs = a.map((x, k): [string | Buffer, string | Buffer, number] => [
    pathOf(t, x),
    pathOf(t, b[k]!),
    t.size[x]!,
  ]);
  return pool.mapBatches(
    pairs,
    COMPARE_BATCH,
    (id, batch) => ({ op: 'compare', id, pairs: batch, fingerprints }),
    (r: Extract<WorkerReply, { op: 'compare' }>) => r.results,
  );
}

/** Two entries of an image compared by the digests taken while its layers were read. */
function compareDigests(t: ScanResult['table'], a: number, b: number): CompareResult {
  const da = t.contents!.digest(a);
  const db = t.contents!.digest(b);
  if (da === undefined || db === undefined) {
    const missing = da === undefined ? a : b;
    return { error: 'no digest taken while reading', code: 'EIO', path: t.displayPath(missing) };
  }
  return { equal: da.equals(db) };
}
