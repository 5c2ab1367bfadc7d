/**
 * `dedup`: hardlink byte-identical files. By default exactly the pairs `compileall --hardlink-dupes` links:
 * in each module cache group (one module, one __pycache__, one cache tag) the levels present, sorted, each
 * compared with the previous one present and linked to it when byte-identical. With `all`, then any
 * byte-identical regular files on one device with the same owner, mode and mtime (never empty files).
 *
 * Plan, then act: names and sizes choose candidate pairs, bytes decide (read once, with the fingerprints
 * the files had while they were read), and every link goes through src/fsops, which re-checks those
 * fingerprints right before it acts. Dry runs stop before the first change.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { type Fingerprint, metadataDifferences } from '../fsops/fingerprint.js';
import { type ChainOp, type ChainOutcome, runChain } from '../fsops/chain.js';
import { type FsCalls, realCalls, removeLeftover, type SkipReason, TEMP_NAME } from '../fsops/link.js';
import { classify } from '../model/classify.js';
import { compareAll } from '../model/identity.js';
import type { CompareResult } from '../scan/compare.js';
import { defaultWorkerCount, LazyPool, type WorkerReply } from '../scan/pool.js';
import { resolveRoots, type ScanProblem, scan } from '../scan/scan.js';
import { displayName, type EntryTable, pathOf, TYPE_FILE } from '../scan/table.js';
import { VERSION } from '../version.js';

export const DEDUP_SCHEMA = 'pyfloppy.dedup/1';

/** Below this many links, carrying them out in this thread is cheaper than handing them to workers. */
const POOL_MIN_LINKS = 512;
/** Chains per request sent to a worker. */
const LINK_BATCH = 128;

export interface DedupOptions {
  paths: readonly string[];
  /** Also link any byte-identical regular files (same device, owner, mode, mtime; never empty). */
  all?: boolean;
  /** Decide everything, change nothing. */
  dryRun?: boolean;
  workers?: number;
  onProgress?: (entries: number, apparentBytes: number) => void;
  /** The system calls (a seam for fault-injection tests). */
  calls?: FsCalls;
}

export interface LinkedPair {
  /** The name whose inode survives (its metadata is kept). */
  survivor: string;
  /** The name that now points to the survivor's inode. */
  target: string;
  /** 'bytecode': a compileall --hardlink-dupes pair; 'identical': found by --all. */
  rule: 'bytecode' | 'identical';
  /** Bytes freed: the target's inode, when this name was its last. */
  apparentBytes: number;
  allocatedBytes: number;
  /** Metadata of the target that differed from the survivor's and is now the survivor's (bytecode only). */
  metadataDiffers: Array<'mode' | 'owner' | 'mtime'>;
}

export interface SkippedPair {
  survivor: string;
  target: string;
  /** An errno code, 'changed', 'unreadable', or 'metadata' (--all: identical bytes, other owner/mode/mtime). */
  reason: SkipReason | 'unreadable' | 'metadata';
  message: string;
}

export interface DedupReport {
  schema: typeof DEDUP_SCHEMA;
  generator: { name: 'pyfloppy'; version: string };
  dryRun: boolean;
  all: boolean;
  roots: string[];
  /** Pairs linked (or, in a dry run, that would be). */
  linked: LinkedPair[];
  /** Pairs not linked, with the reason. */
  skipped: SkippedPair[];
  saved: { pairs: number; apparentBytes: number; allocatedBytes: number };
  /** Identical pairs (by the bytecode rule) that were already one inode. */
  alreadyLinked: number;
  /** Temporary names left by a killed run, removed (each was another name of a file that has one). */
  leftoversRemoved: string[];
  problems: ScanProblem[];
}

interface Op {
  survivor: number;
  target: number;
  rule: LinkedPair['rule'];
  expectSurvivor: Fingerprint;
  expectTarget: Fingerprint;
}

export async function dedup(options: DedupOptions): Promise<DedupReport> {
  const calls = options.calls ?? realCalls;
  const dryRun = options.dryRun === true;
  const roots = resolveRoots(options.paths.map((p) => ({ path: p })));
  const pool = new LazyPool(options.workers ?? defaultWorkerCount());
  const report: DedupReport = {
    schema: DEDUP_SCHEMA,
    generator: { name: 'pyfloppy', version: VERSION },
    dryRun,
    all: options.all === true,
    roots: roots.map((r) => r.realPath),
    linked: [],
    skipped: [],
    saved: { pairs: 0, apparentBytes: 0, allocatedBytes: 0 },
    alreadyLinked: 0,
    leftoversRemoved: [],
    problems: [],
  };
  try {
    const scanned = await scan(roots, {
      pool,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    report.problems.push(...scanned.problems);
    const t = scanned.table;
    const excluded = new Uint8Array(t.count);
    for (let i = 0; i < t.count; i++) {
      const n = t.name[i]!;
      if (t.type[i] !== TYPE_FILE || typeof n !== 'string' || !TEMP_NAME.test(n)) continue;
      excluded[i] = 1;
      // A temporary name left by a killed run: another name of a file, never content of its own.
      if (!dryRun && removeLeftover(pathOf(t, i), calls)) report.leftoversRemoved.push(shown(t, i));
    }
    const exec = new Executor(t, report, calls, dryRun);

    // 1. The compileall --hardlink-dupes pairs.
    const c = classify(scanned);
    const pa: number[] = [];
    const pb: number[] = [];
    for (let g = 0; g < c.bytecode.count; g++) {
      let prev = -1;
      for (let l = 0; l < 3; l++) {
        const cur = c.bytecode.levels[3 * g + l]!;
        if (cur === -1 || excluded[cur] === 1 || t.type[cur] !== TYPE_FILE) continue;
        if (prev !== -1) {
          if (t.dev[prev] === t.dev[cur] && t.inodeKey(prev) === t.inodeKey(cur)) {
            // Already one inode: compileall's filecmp would find them equal; nothing to do.
            report.alreadyLinked++;
          } else if (t.size[prev] === t.size[cur]) {
            pa.push(prev);
            pb.push(cur);
          }
        }
        prev = cur;
      }
    }
    const results = await compareAll(t, pa, pb, pool, true);
    // One chain per cache group: its pairs are consecutive in pa/pb and share the middle level.
    const chains: Op[][] = [];
    results.forEach((r, k) => {
      const op = exec.opFromCompare(pa[k]!, pb[k]!, r, 'bytecode');
      if (op === undefined) return;
      const last = chains.at(-1)?.at(-1);
      if (last !== undefined && last.target === op.survivor) chains.at(-1)!.push(op);
      else chains.push([op]);
    });
    await exec.runChains(chains, pool);

    // 2. --all: any byte-identical regular files.
    if (options.all === true) await dedupAll(t, excluded, exec, pool);
  } finally {
    await pool.close();
  }
  return report;
}

/** Carries out (or, dry, records) link operations, keeping each file's expected fingerprint current. */
class Executor {
  constructor(
    private readonly t: EntryTable,
    private readonly report: DedupReport,
    private readonly calls: FsCalls,
    private readonly dryRun: boolean,
  ) {}

  /** Turn a comparison into an operation, or record why there is none. */
  opFromCompare(survivor: number, target: number, r: CompareResult, rule: Op['rule']): Op | undefined {
    if ('error' in r) {
      this.skip(survivor, target, 'unreadable', `${r.path}: ${r.error}`);
      return undefined;
    }
    if (r.changed === true) {
      this.skip(survivor, target, 'changed', 'changed while it was compared');
      return undefined;
    }
    if (!r.equal) return undefined;
    return { survivor, target, rule, expectSurvivor: r.a!, expectTarget: r.b! };
  }

  skip(survivor: number, target: number, reason: SkippedPair['reason'], message: string): void {
    this.report.skipped.push({
      survivor: shown(this.t, survivor),
      target: shown(this.t, target),
      reason,
      message,
    });
  }

  /**
   * Carry out chains of operations (each chain in order; chains share no file). Many chains go to the worker
   * pool, so that the kernel's work on two directories proceeds on two cores; dry runs, injected system
   * calls (tests) and small jobs stay in this thread. Results are recorded in the order of the chains.
   */
  async runChains(chains: Op[][], pool: LazyPool): Promise<void> {
    const t = this.t;
    const wire = chains.map((ops) =>
      ops.map((op): ChainOp => ({
        survivor: op.survivor,
        target: op.target,
        survivorPath: pathOf(t, op.survivor),
        targetPath: pathOf(t, op.target),
        expectSurvivor: op.expectSurvivor,
        expectTarget: op.expectTarget,
      })),
    );
    const total = chains.reduce((s, c) => s + c.length, 0);
    const workers =
      this.dryRun || this.calls !== realCalls || total < POOL_MIN_LINKS ? undefined : pool.get();
    let outcomes: ChainOutcome[][];
    if (workers === undefined) outcomes = wire.map((ops) => runChain(ops, this.dryRun, this.calls));
    else {
      outcomes = await workers.mapBatches(
        wire,
        LINK_BATCH,
        (id, chains) => ({ op: 'link', id, chains }),
        (r: Extract<WorkerReply, { op: 'link' }>) => r.outcomes,
      );
    }
    chains.forEach((ops, k) => outcomes[k]!.forEach((o, j) => this.record(ops[j]!.rule, o)));
  }

  private record(rule: Op['rule'], o: ChainOutcome): void {
    const t = this.t;
    if (!o.ok) {
      if (o.reason === 'already-linked') this.report.alreadyLinked++;
      else this.skip(o.survivor, o.target, o.reason, o.message);
      return;
    }
    const { survivor, target } = o;
    const freed = o.targetBefore.nlink === 1n;
    const apparent = freed ? Number(o.targetBefore.size) : 0;
    const allocated = freed ? t.blocks[target]! * 512 : 0;
    this.report.linked.push({
      survivor: shown(t, survivor),
      target: shown(t, target),
      rule,
      apparentBytes: apparent,
      allocatedBytes: allocated,
      metadataDiffers: metadataDifferences(o.survivorAfter, o.targetBefore),
    });
    this.report.saved.pairs++;
    this.report.saved.apparentBytes += apparent;
    this.report.saved.allocatedBytes += allocated;
    // The table follows: the target is now a name of the survivor's inode.
    t.dev[target] = t.dev[survivor]!;
    t.ino[target] = t.ino[survivor]!;
    const big = t.bigIno.get(survivor);
    if (big !== undefined) t.bigIno.set(target, big);
  }
}

/**
 * --all: regular, non-empty files grouped by (device, size); within a group of several inodes, content
 * classes (two inodes: compared directly; more: a SHA-256 picks candidates, bytes decide); within a class,
 * files with the same owner, mode and mtime are linked to the one with the most names. Identical files that
 * differ in owner, mode or mtime are reported, not linked: linking would change those of one name (a new
 * mtime on a .py makes its cached bytecode stale).
 */
async function dedupAll(t: EntryTable, excluded: Uint8Array, exec: Executor, pool: LazyPool): Promise<void> {
  const groups = new Map<string, number[]>();
  const seenInode = new Set<string>();
  for (let i = 0; i < t.count; i++) {
    if (t.type[i] !== TYPE_FILE || t.size[i] === 0 || excluded[i] === 1) continue;
    const inode = t.inodeKey(i);
    if (seenInode.has(inode)) continue; // another name of an inode already in a group
    seenInode.add(inode);
    const key = `${t.dev[i]}:${t.size[i]}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [i]);
    else g.push(i);
  }
  // Candidate pairs (member, representative) whose bytes decide.
  const pa: number[] = [];
  const pb: number[] = [];
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    if (g.length === 2) {
      pa.push(g[0]!);
      pb.push(g[1]!);
      continue;
    }
    const byHash = new Map<string, number[]>();
    for (const i of g) {
      const h = hashFile(pathOf(t, i));
      if (h === undefined) continue;
      const cls = byHash.get(h);
      if (cls === undefined) byHash.set(h, [i]);
      else cls.push(i);
    }
    for (const cls of byHash.values()) {
      for (let k = 1; k < cls.length; k++) {
        pa.push(cls[0]!);
        pb.push(cls[k]!);
      }
    }
  }
  const results = await compareAll(t, pa, pb, pool, true);
  // Gather verified classes: representative -> members with their fingerprints.
  const classes = new Map<number, Array<{ entry: number; fp: Fingerprint }>>();
  results.forEach((r, k) => {
    const rep = pa[k]!;
    const member = pb[k]!;
    if ('error' in r) return exec.skip(rep, member, 'unreadable', `${r.path}: ${r.error}`);
    if (r.changed === true) return exec.skip(rep, member, 'changed', 'changed while it was compared');
    if (!r.equal) return;
    let cls = classes.get(rep);
    if (cls === undefined) {
      cls = [{ entry: rep, fp: r.a! }];
      classes.set(rep, cls);
    }
    cls.push({ entry: member, fp: r.b! });
  });
  const chains: Op[][] = [];
  for (const cls of classes.values()) {
    // The survivor is the file with the most names (fewest links to make), then the first by path: the
    // choice does not depend on directory order. Partition by owner, mode, mtime, the survivor's first.
    const paths = new Map(cls.map((m) => [m.entry, shown(t, m.entry)]));
    cls.sort((x, y) =>
      x.fp.nlink === y.fp.nlink
        ? paths.get(x.entry)! < paths.get(y.entry)!
          ? -1
          : 1
        : x.fp.nlink > y.fp.nlink
          ? -1
          : 1,
    );
    const parts = new Map<string, Array<{ entry: number; fp: Fingerprint }>>();
    for (const m of cls) {
      const key = `${m.fp.uid}:${m.fp.gid}:${m.fp.mode}:${m.fp.mtimeNs}`;
      const p = parts.get(key);
      if (p === undefined) parts.set(key, [m]);
      else p.push(m);
    }
    let first: { entry: number; fp: Fingerprint } | undefined;
    for (const part of parts.values()) {
      const best = part[0]!;
      if (first === undefined) first = best;
      else {
        const diff = metadataDifferences(first.fp, best.fp).join(', ');
        exec.skip(
          first.entry,
          best.entry,
          'metadata',
          `identical bytes, but ${diff} differ${diff.includes(',') ? '' : 's'}`,
        );
      }
      const chain: Op[] = [];
      for (const m of part) {
        if (m !== best) {
          chain.push({
            survivor: best.entry,
            target: m.entry,
            rule: 'identical',
            expectSurvivor: best.fp,
            expectTarget: m.fp,
          });
        }
      }
      if (chain.length > 0) chains.push(chain);
    }
  }
  await exec.runChains(chains, pool);
}

/** A path for people: the file-system path, not-UTF-8 bytes shown as \xNN. */
function shown(t: EntryTable, i: number): string {
  const p = pathOf(t, i);
  return typeof p === 'string' ? p : displayName(p);
}

function hashFile(p: string | Buffer): string | undefined {
  try {
    const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const h = crypto.createHash('sha256');
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
      }
      return h.digest('hex');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Why: an unreadable file simply is no candidate; the byte comparison would report it if it were one.
    return undefined;
  }
}
