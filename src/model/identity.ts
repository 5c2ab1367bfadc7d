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
  const g = c.bytecode;
  const unreadable: BytecodeIdentity['unreadable'] = [];
  const sameInode = (a: number, b: number): boolean =>
    t.dev[a] === t.dev[b] && t.inodeKey(a) === t.inodeKey(b);

  // Phase 1: settle what names and sizes settle; collect the pairs that need reading.
  // Per group and pair (0-1, 1-2, 0-2): 0 different, 1 identical, 2 identical and one inode, 3 to compare.
  const state = new Uint8Array(g.count * 3);
  const candA: number[] = [];
  const candB: number[] = [];
  const candSlot: number[] = [];
  const settle = (slot: number, a: number, b: number): void => {
    if (a === -1 || b === -1) return;
    if (sameInode(a, b)) state[slot] = 2;
    else if (t.size[a] === t.size[b]) {
      state[slot] = 3;
      candA.push(a);
      candB.push(b);
      candSlot.push(slot);
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

  // Phase 2: compare bytes, in workers when there are many pairs.
  const results = await compareAll(t, candA, candB, lazyPool);
  results.forEach((r, n) => {
    if ('equal' in r) state[candSlot[n]!] = r.equal ? 1 : 0;
    else {
      state[candSlot[n]!] = 0;
      unreadable.push({ path: r.path, code: r.code, message: r.error });
    }
  });

  // Phase 3: tally.
  const pairBits = new Uint8Array(g.count);
  const withLevel: [number, number, number] = [0, 0, 0];
  const tags: Record<string, number> = {};
  let identical01 = 0;
  let identical12 = 0;
  let identical012 = 0;
  let alreadyLinked = 0;
  const dedupable = { pairs: 0, apparentBytes: 0, allocatedBytes: 0 };
  for (let k = 0; k < g.count; k++) {
    const l1 = g.levels[3 * k + 1]!;
    const l2 = g.levels[3 * k + 2]!;
    const tag = c.tags[g.tag[k]!]!;
    tags[tag] = (tags[tag] ?? 0) + 1;
    for (let l = 0; l < 3; l++) if (g.levels[3 * k + l] !== -1) withLevel[l]!++;
    const r01 = state[3 * k]!;
    const r12 = state[3 * k + 1]!;
    const r02 = state[3 * k + 2]!;
    let bits = 0;
    if (r01 > 0) bits |= 1 | (r01 === 2 ? 8 : 0);
    if (r12 > 0) bits |= 2 | (r12 === 2 ? 16 : 0);
    if (r02 > 0) bits |= 4 | (r02 === 2 ? 32 : 0);
    pairBits[k] = bits;
    if (r01 > 0) identical01++;
    if (r12 > 0) identical12++;
    if (r01 > 0 && r12 > 0) identical012++;
    if (r01 === 2) alreadyLinked++;
    if (r12 === 2) alreadyLinked++;
    // compileall pairing: the later level of each identical, not yet linked, consecutive pair is freed.
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
  return {
    summary: {
      modules: g.count,
      withLevel,
      identical01,
      identical12,
      identical012,
      alreadyLinked,
      dedupable,
      tags,
      unreadable,
    },
    pairBits,
  };
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
