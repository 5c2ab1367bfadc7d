/**
 * The model stage: footprint aggregates over a classified scan. Pure: no I/O.
 *
 * Honest counting (design promise 5): apparent bytes are st_size, allocated bytes st_blocks * 512 (what du
 * counts); an inode reached through several paths is counted once, under the lowest kind of its paths, and
 * the extra paths are reported as the bytes existing hardlinks save.
 */
import type { ScanResult } from '../scan/scan.js';
import type { Classification } from './classify.js';
import { KIND_COUNT, KIND_NAMES, type KindName } from './kinds.js';

export interface Bytes {
  apparentBytes: number;
  allocatedBytes: number;
}

export interface KindTotal extends Bytes {
  /** Inodes counted under this kind. */
  files: number;
  /** Paths of this kind, including second names of hardlinked inodes counted elsewhere. */
  paths: number;
}

export type KindTotals = Record<KindName, KindTotal>;

/** Per-kind tallies in one flat array: [files, paths, apparent, allocated] per kind. */
export class Tally {
  readonly v = new Float64Array(KIND_COUNT * 4);

  addPath(kind: number): void {
    this.v[kind * 4 + 1]! += 1;
  }

  addInode(kind: number, apparent: number, allocated: number): void {
    const o = kind * 4;
    this.v[o]! += 1;
    this.v[o + 2]! += apparent;
    this.v[o + 3]! += allocated;
  }

  totals(): KindTotals {
    const out = {} as KindTotals;
    KIND_NAMES.forEach((k, i) => {
      out[k] = {
        files: this.v[i * 4]!,
        paths: this.v[i * 4 + 1]!,
        apparentBytes: this.v[i * 4 + 2]!,
        allocatedBytes: this.v[i * 4 + 3]!,
      };
    });
    return out;
  }

  sum(): Bytes & { files: number } {
    let files = 0;
    let apparentBytes = 0;
    let allocatedBytes = 0;
    for (let i = 0; i < KIND_COUNT; i++) {
      files += this.v[i * 4]!;
      apparentBytes += this.v[i * 4 + 2]!;
      allocatedBytes += this.v[i * 4 + 3]!;
    }
    return { files, apparentBytes, allocatedBytes };
  }
}

export interface Footprint {
  /** 1 where the entry is the path its inode is counted under. */
  counted: Uint8Array;
  all: Tally;
  perRoot: Tally[];
  /** Per (root, top-level module): key root * topNames.length + top; top -1 (sys.path dirs) uses topNames.length. */
  perModule: Map<number, Tally>;
  perDistribution: Tally[];
  /** Test code only (inside test/tests/idle_test packages). */
  test: Tally;
  /** Per (root, top-level module), the test code inside it. */
  testPerModule: Map<number, Tally>;
  hardlinks: Bytes & { extraPaths: number };
}

export function footprint(scan: ScanResult, c: Classification): Footprint {
  const { counted, hardlinks } = representatives(scan.table, c);
  return { counted, ...tallies(scan, c, counted), hardlinks };
}

/** Inodes with several paths: keep the lowest kind's path (ties: the first met); the other paths' bytes. */
function representatives(
  t: ScanResult['table'],
  c: Classification,
): Pick<Footprint, 'counted' | 'hardlinks'> {
  const n = t.count;
  const counted = new Uint8Array(n).fill(1);
  const hardlinks = { extraPaths: 0, apparentBytes: 0, allocatedBytes: 0 };
  const rep = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const f = t.firstLink[i]!;
    if (f === -1) continue;
    const cur = rep.get(f) ?? f;
    if (c.kind[i]! < c.kind[cur]!) {
      counted[cur] = 0;
      rep.set(f, i);
    } else {
      counted[i] = 0;
      rep.set(f, cur);
    }
    hardlinks.extraPaths += 1;
    hardlinks.apparentBytes += t.size[i]!;
    hardlinks.allocatedBytes += t.blocks[i]! * 512;
  }
  return { counted, hardlinks };
}

/** Every path counted under its kind, every counted inode's bytes: in all, per root, module, distribution. */
function tallies(
  scan: ScanResult,
  c: Classification,
  counted: Uint8Array,
): Omit<Footprint, 'counted' | 'hardlinks'> {
  const t = scan.table;
  const all = new Tally();
  const test = new Tally();
  const perRoot = scan.roots.map(() => new Tally());
  const perModule = new Map<number, Tally>();
  const testPerModule = new Map<number, Tally>();
  const perDistribution = c.distributions.map(() => new Tally());
  const tops = c.topNames.length;
  for (let i = 0; i < t.count; i++) {
    const k = c.kind[i]!;
    const top = c.top[i]!;
    const key = t.root[i]! * (tops + 1) + (top === -1 ? tops : top);
    const mod = tallyOf(perModule, key);
    const root = perRoot[t.root[i]!]!;
    const d = c.dist[i]!;
    const isTest = c.test[i] === 1;
    all.addPath(k);
    root.addPath(k);
    mod.addPath(k);
    if (isTest) {
      test.addPath(k);
      tallyOf(testPerModule, key).addPath(k);
    }
    if (d !== -1) perDistribution[d]!.addPath(k);
    if (counted[i] === 0) continue;
    const a = t.size[i]!;
    const b = t.blocks[i]! * 512;
    all.addInode(k, a, b);
    root.addInode(k, a, b);
    mod.addInode(k, a, b);
    if (isTest) {
      test.addInode(k, a, b);
      tallyOf(testPerModule, key).addInode(k, a, b);
    }
    if (d !== -1) perDistribution[d]!.addInode(k, a, b);
  }
  return { all, perRoot, perModule, perDistribution, test, testPerModule };
}

function tallyOf(m: Map<number, Tally>, key: number): Tally {
  let tl = m.get(key);
  if (tl === undefined) {
    tl = new Tally();
    m.set(key, tl);
  }
  return tl;
}

/** Decode a perModule key into (root index, top index or -1). */
export function moduleKey(key: number, topCount: number): { root: number; top: number } {
  const root = Math.floor(key / (topCount + 1));
  const top = key % (topCount + 1);
  return { root, top: top === topCount ? -1 : top };
}
