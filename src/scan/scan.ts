/**
 * The scan stage: walk roots once, lstat every entry, never follow a symlink, and record what the footprint
 * needs in an EntryTable. Read-only. Unreadable directories are reported and skipped, never fatal.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode, PyfloppyError } from '../errors.js';
import type { LazyPool, WorkerPool, WorkerReply } from './pool.js';
import { EntryTable, type TableTransfer, TYPE_DIR } from './table.js';
import { type DirJob, problem, recordStats, type ScanProblem, walkBatch } from './walk.js';

export type { ScanProblem } from './walk.js';

export interface RootSpec {
  /** The path as the user or the interpreter gave it. */
  path: string;
  /** A label such as 'stdlib' or 'purelib'; defaults to the path. */
  label?: string;
  /** Where the directory lives when installed (in a root file system: its path from that root). */
  installedAt?: string;
}

export interface ScannedRoot {
  /** The path as given (the first one, when several specs name the same directory). */
  path: string;
  /** The directory itself, symlinks resolved: only the root is ever resolved, nothing below it. */
  realPath: string;
  /** Labels of every spec that named this directory, e.g. ['stdlib', 'platstdlib']. */
  labels: string[];
  /** Index of the root's own entry in the table; -1 when the directory was already inside another root. */
  entry: number;
  /** When this root lies inside another root, the index of that root: its files are counted once, here. */
  insideRoot: number;
  /** Where it lives when installed, when that is not where it is (a root file system's, an image's). */
  installedAt?: string;
}

export interface ScanResult {
  table: EntryTable;
  roots: ScannedRoot[];
  problems: ScanProblem[];
}

export interface ScanOptions {
  /** Called every few thousand entries with the entries seen and their apparent bytes so far. */
  onProgress?: (entries: number, apparentBytes: number) => void;
  /** Worker threads to share a large walk with; without it, this thread walks alone. */
  pool?: LazyPool;
  /** Directories this thread walks before sharing the rest out (default 1000; tests make it small). */
  mainDirs?: number;
  /** Directories a worker batch walks at most (default 96). */
  batchDirs?: number;
}

/**
 * Resolve and check the roots: each must exist and be a directory. Specs naming the same directory are merged.
 * Throws PyfloppyError (exit 2) for a root that is missing, not a directory or unreadable.
 */
export function resolveRoots(specs: readonly RootSpec[]): ScannedRoot[] {
  const roots: ScannedRoot[] = [];
  for (const spec of specs) {
    const label = spec.label ?? spec.path;
    let real: string;
    try {
      real = fs.realpathSync(spec.path);
    } catch (e) {
      throw rootError(spec.path, e);
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(real);
    } catch (e) {
      throw rootError(spec.path, e);
    }
    if (!st.isDirectory()) {
      throw new PyfloppyError('ENOTDIR', `not a directory: ${spec.path}`, {
        hint: 'give the directory that holds the Python tree, e.g. /usr/lib64/python3.12',
      });
    }
    requireReadableRoot(spec.path);
    const same = roots.find((r) => r.realPath === real);
    if (same) {
      if (!same.labels.includes(label)) same.labels.push(label);
      continue;
    }
    roots.push({
      path: spec.path,
      realPath: real,
      labels: [label],
      entry: -1,
      insideRoot: -1,
      ...(spec.installedAt === undefined ? {} : { installedAt: spec.installedAt }),
    });
  }
  for (const r of roots) {
    let best = -1;
    roots.forEach((o, k) => {
      if (
        o !== r &&
        isInside(r.realPath, o.realPath) &&
        (best === -1 || o.realPath.length > roots[best]!.realPath.length)
      ) {
        best = k;
      }
    });
    r.insideRoot = best;
  }
  return roots;
}

/** The hint of an unreadable root. */
export const READ_HINT = 'run as a user who may read it (and, for dedup, compile and apply, write it)';

/**
 * The one rule for a root the user named that cannot be read (analyze, check, plan, split, dedup, compile):
 * an error (exit 2) naming it, as for a missing path, not an empty report. A directory needs read and search
 * permission, a file read permission; a path that does not exist is left to the caller's own message.
 * Unreadable parts below a readable root are the scan's problems instead (skipped, listed).
 */
export function requireReadableRoot(p: string): void {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (st === undefined) return;
  try {
    fs.accessSync(p, st.isDirectory() ? fs.constants.R_OK | fs.constants.X_OK : fs.constants.R_OK);
  } catch (e) {
    throw new PyfloppyError('EACCES', `cannot read ${p}: permission denied`, { cause: e, hint: READ_HINT });
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function rootError(p: string, e: unknown): PyfloppyError {
  const code = errnoCode(e);
  if (code === 'ENOENT')
    return new PyfloppyError('ENOTFOUND', `no such file or directory: ${p}`, { cause: e });
  if (code === 'ENOTDIR') return new PyfloppyError('ENOTDIR', `not a directory: ${p}`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') {
    return new PyfloppyError('EACCES', `permission denied: ${p}`, {
      cause: e,
      hint: 'run as a user who can read it',
    });
  }
  return new PyfloppyError('ENOTFOUND', `cannot open ${p}: ${(e as Error).message}`, { cause: e });
}

/** Directories the main thread walks before it shares the rest out to workers. */
const MAIN_FIRST_DIRS = 1000;
/** After this many directories, start the workers (they load while this thread walks on). */
const POOL_START_DIRS = 150;
/** Directories one worker batch walks at most before handing its leftovers back. */
const BATCH_DIRS = 96;

/**
 * Walk the roots. A root nested in another root is walked as its own root and skipped by the outer one, so
 * its files are attributed to the innermost root (site-packages inside the stdlib directory counts as
 * site-packages); a directory reached twice (the same inode) is walked once.
 *
 * Small trees are walked by this thread alone. Past MAIN_FIRST_DIRS directories, the remaining ones are
 * shared out in bounded batches to the pool's workers (when a pool is given), each batch handing back the
 * directories it found but did not walk: the work balances itself whatever the tree's shape.
 */
export async function scan(roots: ScannedRoot[], options: ScanOptions = {}): Promise<ScanResult> {
  const w = new Walk(options.onProgress);
  w.addRoots(roots);
  const mainDirs = options.mainDirs ?? MAIN_FIRST_DIRS;
  w.walkHere(Math.min(mainDirs, POOL_START_DIRS));
  // A tree still going after the first directories is large: start the workers now, so that they load
  // while this thread walks on.
  const pool = w.queue.length > 0 ? options.pool?.get() : undefined;
  if (mainDirs > POOL_START_DIRS && w.queue.length > 0) w.walkHere(mainDirs - POOL_START_DIRS);
  if (pool === undefined) {
    while (w.queue.length > 0) w.walkHere(Number.MAX_SAFE_INTEGER);
  } else await w.shareOut(pool, options.batchDirs ?? BATCH_DIRS);
  const excluded = dropDuplicateDirs(w.table);
  linkInodes(w.table);
  options.onProgress?.(w.table.count, w.apparent - excluded);
  return { table: w.table, roots, problems: w.problems };
}

/** A walk in progress: the table, the directories waiting, what was seen, the bytes so far. */
class Walk {
  readonly table = new EntryTable(4096);
  readonly problems: ScanProblem[] = [];
  readonly queue: DirJob[] = [];
  apparent = 0;
  private readonly rootKeys = new Set<string>();
  private readonly seenDirs = new Set<string>();

  constructor(private readonly onProgress: ScanOptions['onProgress']) {}

  /** The roots first: each root's directory is recorded once, and outer roots skip inner ones. */
  addRoots(roots: ScannedRoot[]): void {
    const order = roots
      .map((_, k) => k)
      .sort((a, b) => roots[b]!.realPath.length - roots[a]!.realPath.length);
    for (const rootIndex of order) {
      const root = roots[rootIndex]!;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(root.realPath);
      } catch (e) {
        this.problems.push(problem(root.realPath, e));
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      if (this.rootKeys.has(key)) continue;
      this.rootKeys.add(key);
      const i = this.table.add();
      this.table.parent[i] = -1;
      this.table.root[i] = rootIndex;
      this.table.name[i] = root.realPath;
      recordStats(this.table, i, root.realPath, st);
      this.apparent += st.size;
      root.entry = i;
      this.queue.push({ path: root.realPath, ref: i, root: rootIndex });
    }
  }

  /** Walk up to maxDirs of the waiting directories in this thread. */
  walkHere(maxDirs: number): void {
    const seg = walkBatch(this.queue.splice(0), maxDirs, this.rootKeys, this.seenDirs);
    this.merge({ ...seg, table: seg.table.toTransfer() });
  }

  /** Share the waiting directories out to the workers until none is left and none is at work. */
  async shareOut(pool: WorkerPool, batchDirs: number): Promise<void> {
    const queue = this.queue;
    pool.broadcast({ op: 'init', skipDirs: [...this.rootKeys, ...this.seenDirs] });
    await new Promise<void>((resolve, reject) => {
      let inflight = 0;
      const pump = (): void => {
        // Two batches in flight per worker: one at work, one queued, so no worker waits for this thread.
        while (queue.length > 0 && inflight < pool.size * 2) {
          // Share the queue out: each request takes its part of what is waiting.
          const take = Math.max(1, Math.ceil(queue.length / (pool.size * 3)));
          const jobs = queue.splice(queue.length - take, take);
          inflight++;
          pool
            .request<Extract<WorkerReply, { op: 'walk' }>>((id) => ({
              op: 'walk',
              id,
              jobs,
              maxDirs: batchDirs,
            }))
            .then((r) => {
              inflight--;
              this.merge(r);
              pump();
            }, reject);
        }
        if (queue.length === 0 && inflight === 0) resolve();
      };
      pump();
    });
  }

  /** A walked segment appended; the directories it did not walk go back to the queue. */
  private merge(seg: {
    table: TableTransfer;
    leftovers: DirJob[];
    problems: ScanProblem[];
    apparentBytes: number;
  }): void {
    const base = this.table.append(seg.table);
    for (const job of seg.leftovers)
      this.queue.push(job.ref >= 0 ? job : { ...job, ref: base + (-job.ref - 2) });
    for (const p of seg.problems) this.problems.push(p);
    this.apparent += seg.apparentBytes;
    this.onProgress?.(this.table.count, this.apparent);
  }
}

/** Mark the second and later paths of each multiply-linked inode with the index of its first path. */
function linkInodes(t: EntryTable): void {
  const first = new Map<string, number>();
  for (let i = 0; i < t.count; i++) {
    if (t.nlink[i]! < 2 || t.type[i] === TYPE_DIR) continue;
    const key = t.inodeKey(i);
    const f = first.get(key);
    if (f === undefined) first.set(key, i);
    else t.firstLink[i] = f;
  }
}

/**
 * Workers each keep their own set of walked directories; a directory reachable twice (bind mounts) in
 * batches of two workers would be recorded twice. Drop the later copy and everything below it. Rare: the
 * table is only rebuilt when it happens. Returns the apparent bytes dropped.
 */
function dropDuplicateDirs(t: EntryTable): number {
  const seen = new Set<string>();
  let drop: Uint8Array | undefined;
  for (let i = 0; i < t.count; i++) {
    const p = t.parent[i]!;
    if (drop !== undefined && p !== -1 && drop[p] === 1) {
      drop[i] = 1;
      continue;
    }
    if (t.type[i] !== TYPE_DIR) continue;
    const key = t.inodeKey(i);
    if (seen.has(key)) {
      drop ??= new Uint8Array(t.count);
      drop[i] = 1;
    } else seen.add(key);
  }
  if (drop === undefined) return 0;
  let dropped = 0;
  const keep = new Uint8Array(t.count);
  for (let i = 0; i < t.count; i++) {
    if (drop[i] === 1) dropped += t.size[i]!;
    else keep[i] = 1;
  }
  Object.assign(t, t.filter(keep));
  return dropped;
}
