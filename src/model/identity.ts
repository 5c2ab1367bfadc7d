/**
 * Bytecode identity: for every module cache group (one module, one __pycache__, one cache tag), whether its
 * levels are byte-identical and whether they already share an inode. Reads only candidate pairs: two paths
 * to one inode are identical without reading; files of different sizes cannot be; files of equal size are
 * compared byte for byte.
 */
import fs from 'node:fs';
import type { ScanResult } from '../scan/scan.js';
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

/** Per-group results, 2 bits per pair: bit 0 = levels 0/1 identical, bit 1 = 1/2, bit 2 = 0/2. */
export interface IdentityDetail {
  summary: BytecodeIdentity;
  /** Per group: bit 0: 0=1, bit 1: 1=2, bit 2: 0=2 (byte-identical); bits 3-5: the same pairs already linked. */
  pairBits: Uint8Array;
}

export function bytecodeIdentity(scan: ScanResult, c: Classification): IdentityDetail {
  const t = scan.table;
  const g = c.bytecode;
  const pairBits = new Uint8Array(g.count);
  const unreadable: BytecodeIdentity['unreadable'] = [];
  const withLevel: [number, number, number] = [0, 0, 0];
  const tags: Record<string, number> = {};
  let identical01 = 0;
  let identical12 = 0;
  let identical012 = 0;
  let alreadyLinked = 0;
  const dedupable = { pairs: 0, apparentBytes: 0, allocatedBytes: 0 };
  const bufs: Array<Buffer | null | undefined> = [undefined, undefined, undefined];

  const read = (slot: number, i: number): Buffer | null => {
    let b = bufs[slot];
    if (b === undefined) {
      try {
        b = fs.readFileSync(t.fsPath(i));
      } catch (e) {
        unreadable.push({
          path: t.displayPath(i),
          code: (e as NodeJS.ErrnoException).code ?? 'EIO',
          message: (e as Error).message,
        });
        b = null;
      }
      bufs[slot] = b;
    }
    return b;
  };
  const sameInode = (a: number, b: number): boolean =>
    t.dev[a] === t.dev[b] && t.inodeKey(a) === t.inodeKey(b);
  // 0: different, 1: identical, 2: identical and already one inode
  const compare = (la: number, a: number, lb: number, b: number): number => {
    if (sameInode(a, b)) return 2;
    if (t.size[a] !== t.size[b]) return 0;
    const x = read(la, a);
    const y = read(lb, b);
    return x !== null && y !== null && x.equals(y) ? 1 : 0;
  };

  for (let k = 0; k < g.count; k++) {
    const l0 = g.levels[3 * k]!;
    const l1 = g.levels[3 * k + 1]!;
    const l2 = g.levels[3 * k + 2]!;
    const tag = c.tags[g.tag[k]!]!;
    tags[tag] = (tags[tag] ?? 0) + 1;
    if (l0 !== -1) withLevel[0]++;
    if (l1 !== -1) withLevel[1]++;
    if (l2 !== -1) withLevel[2]++;
    bufs[0] = bufs[1] = bufs[2] = undefined;
    let bits = 0;
    const r01 = l0 !== -1 && l1 !== -1 ? compare(0, l0, 1, l1) : 0;
    const r12 = l1 !== -1 && l2 !== -1 ? compare(1, l1, 2, l2) : 0;
    // 0 and 2 are compared only where compileall compares them: when level 1 is absent.
    const r02 = l0 !== -1 && l2 !== -1 && l1 === -1 ? compare(0, l0, 2, l2) : 0;
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
