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
import { errnoCode } from '../errors.js';
import { anchoredCalls, asRunError, type RootIdentity, TreeAnchors } from '../fsops/anchored.js';
import { type Fingerprint, metadataDifferences } from '../fsops/fingerprint.js';
import { type ChainOp, type ChainOutcome, runChain } from '../fsops/chain.js';
import { type FsCalls, realCalls, removeStaleTemp, type SkipReason } from '../fsops/link.js';
import { LOCK_FILE, lockTree, type TreeLock } from '../fsops/lock.js';
import { ANY_TEMP_NAME } from '../fsops/temp.js';
import { classify } from '../model/classify.js';
import { compareAll } from '../model/identity.js';
import type { CompareResult } from '../scan/compare.js';
import { defaultWorkerCount, LazyPool, type WorkerReply } from '../scan/pool.js';
import { resolveRoots, type ScanProblem, type ScanResult, scan } from '../scan/scan.js';
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
  /**
   * pyfloppy temporaries left by a run that is over, removed: link temporaries (other names of a file that
   * has one) and cache or write temporaries (partial copies) of every name form.
   */
  leftoversRemoved: string[];
  /** Files left alone because their inode is also named outside the given paths (why, in `reason`). */
  namedOutside: { count: number; reason: string; paths: string[] };
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
    namedOutside: { count: 0, reason: NAMED_OUTSIDE, paths: [] },
    problems: [],
  };
  const anchors = new TreeAnchors(roots.map((r) => r.realPath));
  const locks: TreeLock[] = [];
  try {
    // Every root opened (and its identity fixed) before anything is read; then one run per tree.
    const identities = anchors.identities();
    if (!dryRun)
      roots.forEach((r, k) => locks.push(lockTree(r.realPath, 'dedup', anchors.anchor(k).dir('.'))));
    const calls = anchoredCalls(anchors, options.calls ?? realCalls);
    const scanned = await scan(roots, {
      pool,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    report.problems.push(...scanned.problems);
    const t = scanned.table;
    const excluded = excludeOwnFiles(t, report, dryRun ? undefined : calls);
    const outside = namedOutside(t);
    const exec = new Executor(t, report, calls, dryRun, options.calls !== undefined, identities);
    await dedupBytecode(scanned, excluded, outside, exec, pool);
    if (options.all === true) await dedupAll(t, excluded, outside, exec, pool);
  } catch (e) {
    throw asRunError(e, 'dedup');
  } finally {
    for (const l of locks) l.release();
    anchors.close();
    await pool.close();
  }
  return report;
}

const NAMED_OUTSIDE =
  'the inode has more names than the given paths hold: linking would change what a name outside them shares';

/**
 * pyfloppy's own files are never candidates: the tree lock, and temporaries of every kind; those left by a
 * run that is over are removed (`calls` undefined in a dry run: nothing removed). A temporary that cannot be
 * removed is a scan problem, not the end of the run.
 */
function excludeOwnFiles(t: EntryTable, report: DedupReport, calls: FsCalls | undefined): Uint8Array {
  const excluded = new Uint8Array(t.count);
  for (let i = 0; i < t.count; i++) {
    const n = t.name[i]!;
    if (t.type[i] !== TYPE_FILE || typeof n !== 'string') continue;
    if (n === LOCK_FILE) excluded[i] = 1;
    if (!ANY_TEMP_NAME.test(n)) continue;
    excluded[i] = 1;
    if (calls === undefined) continue;
    try {
      const inCache = t.name[t.parent[i]!] === '__pycache__';
      if (removeStaleTemp(pathOf(t, i), calls, inCache)) report.leftoversRemoved.push(shown(t, i));
    } catch (e) {
      report.problems.push({
        path: shown(t, i),
        code: errnoCode(e) ?? 'EUNSAFE',
        message: (e as Error).message,
      });
    }
  }
  return excluded;
}

/** Files whose inode has names outside the given paths: link count above the names the scan found. */
function namedOutside(t: EntryTable): Uint8Array {
  // Why only nlink > 1: a file with one link has no name elsewhere; the map stays as small as the linked files.
  const names = new Map<string, number>();
  for (let i = 0; i < t.count; i++) {
    if (t.type[i] !== TYPE_FILE || t.nlink[i]! < 2) continue;
    const key = t.inodeKey(i);
    names.set(key, (names.get(key) ?? 0) + 1);
  }
  const out = new Uint8Array(t.count);
  for (let i = 0; i < t.count; i++) {
    if (t.type[i] === TYPE_FILE && t.nlink[i]! > 1 && t.nlink[i]! > names.get(t.inodeKey(i))!) out[i] = 1;
  }
  return out;
}

/** The compileall --hardlink-dupes pairs: per cache group, each level present with the previous one. */
async function dedupBytecode(
  scanned: ScanResult,
  excluded: Uint8Array,
  outside: Uint8Array,
  exec: Executor,
  pool: LazyPool,
): Promise<void> {
  const t = scanned.table;
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
          exec.alreadyLinked();
        } else if (outside[prev] === 1 || outside[cur] === 1) {
          exec.namedOutside(outside[prev] === 1 ? prev : cur);
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
}

/** Carries out (or, dry, records) link operations, keeping each file's expected fingerprint current. */
class Executor {
  private readonly outside = new Set<number>();

  constructor(
    private readonly t: EntryTable,
    private readonly report: DedupReport,
    private readonly calls: FsCalls,
    private readonly dryRun: boolean,
    /** System calls injected by a test: they run in this thread, never in workers. */
    private readonly injected: boolean,
    /** The roots, for the anchors each worker thread opens (descriptors are per process, but opened per use). */
    private readonly roots: RootIdentity[],
  ) {}

  alreadyLinked(): void {
    this.report.alreadyLinked++;
  }

  /** Entry i is left alone: its inode has names outside the given paths. */
  namedOutside(i: number): void {
    if (this.outside.has(i)) return;
    this.outside.add(i);
    this.report.namedOutside.count++;
    this.report.namedOutside.paths.push(shown(this.t, i));
  }

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
    const workers = this.dryRun || this.injected || total < POOL_MIN_LINKS ? undefined : pool.get();
    let outcomes: ChainOutcome[][];
    if (workers === undefined) outcomes = wire.map((ops) => runChain(ops, this.dryRun, this.calls));
    else {
      outcomes = await workers.mapBatches(
        wire,
        LINK_BATCH,
        (id, chains) => ({ op: 'link', id, chains, roots: this.roots }),
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
async function dedupAll(
  t: EntryTable,
  excluded: Uint8Array,
  outside: Uint8Array,
  exec: Executor,
  pool: LazyPool,
): Promise<void> {
  const { pa, pb } = candidatePairs(t, sizeGroups(t, excluded));
  const classes = verifiedClasses(await compareAll(t, pa, pb, pool, true), pa, pb, exec);
  await exec.runChains(linkClasses(t, classes, outside, exec), pool);
}

/** Regular, non-empty files by (device, size), one name per inode. */
function sizeGroups(t: EntryTable, excluded: Uint8Array): Map<string, number[]> {
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
  return groups;
}

/** Candidate pairs (representative, member) whose bytes decide: two inodes directly, more by SHA-256. */
function candidatePairs(t: EntryTable, groups: Map<string, number[]>): { pa: number[]; pb: number[] } {
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
  return { pa, pb };
}

/** Verified classes: representative -> members with their fingerprints; unreadable or changed pairs skipped. */
function verifiedClasses(
  results: CompareResult[],
  pa: number[],
  pb: number[],
  exec: Executor,
): Map<number, Member[]> {
  const classes = new Map<number, Member[]>();
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
  return classes;
}

type Member = { entry: number; fp: Fingerprint };

/**
 * The links of --all for verified classes of identical files: within a class, files with the same owner,
 * mode and mtime are linked to the one with the most names; the other partitions are reported.
 */
function linkClasses(
  t: EntryTable,
  classes: Map<number, Member[]>,
  outside: Uint8Array,
  exec: Executor,
): Op[][] {
  const chains: Op[][] = [];
  for (const all of classes.values()) {
    // Twins also named outside the given paths are reported, not linked (only twins: a venv's files that
    // an installer hardlinked from its cache are no news).
    const cls = all.filter((m) => {
      if (outside[m.entry] !== 1) return true;
      exec.namedOutside(m.entry);
      return false;
    });
    if (cls.length < 2) continue;
    sortSurvivorFirst(t, cls);
    let first: Member | undefined;
    for (const part of partitions(cls)) {
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
      const chain = part.filter((m) => m !== best).map((m) => identicalLink(best, m));
      if (chain.length > 0) chains.push(chain);
    }
  }
  return chains;
}

/**
 * The survivor is the file with the most names (fewest links to make), then the first by path: the
 * choice does not depend on directory order.
 */
function sortSurvivorFirst(t: EntryTable, cls: Member[]): void {
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
}

/** Partition by owner, mode, mtime, in order: the survivor's partition first, each led by its survivor. */
function partitions(cls: Member[]): Member[][] {
  const parts = new Map<string, Member[]>();
  for (const m of cls) {
    const key = `${m.fp.uid}:${m.fp.gid}:${m.fp.mode}:${m.fp.mtimeNs}`;
    const p = parts.get(key);
    if (p === undefined) parts.set(key, [m]);
    else p.push(m);
  }
  return [...parts.values()];
}

function identicalLink(best: Member, m: Member): Op {
  return {
    survivor: best.entry,
    target: m.entry,
    rule: 'identical',
    expectSurvivor: best.fp,
    expectTarget: m.fp,
  };
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
