/**
 * `plan`: turn strategies into a reviewable list of file operations on one tree, each carrying the
 * fingerprint (dev, ino, size, mtime, ctime, SHA-256) of every file it touches, so that `apply` can refuse a
 * tree that changed since. Read-only: scans, classifies, reads the bytes it hashes and compresses, and
 * writes nothing. The operations themselves come from the strategies' layouts (`src/strategies/`), composed
 * over facts read from the tree (`facts.ts`); this module knows no strategy by name.
 *
 * Operations are paths relative to the root (never absolute, never `..`, but for a stdlib root's
 * `../pythonXY.zip`), in the order apply carries them out: an archive or a new name exists before the old
 * names go, and directories go after their files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PyfloppyError } from '../errors.js';
import { requireReadableRoot } from '../scan/scan.js';
import type { Bytes } from '../model/footprint.js';
import { buildModel, type Model } from '../model/model.js';
import { bytesFreed } from '../strategies/accounting.js';
import { compose, estimateById, resolveStrategies } from '../strategies/compose.js';
import { EstimateContext } from '../strategies/context.js';
import type { Facts, LayoutOp } from '../strategies/strategy.js';
import { dominantTag } from '../strategies/zip.js';
import { VERSION } from '../version.js';
import { treeFacts } from './facts.js';
import { materialize } from './materialize.js';
import { withListsRewritten } from './record.js';

export { parsePlan, relPaths } from './validate.js';
export { gzipSource, sha256File, zipInput } from './files.js';
export { stdlibZip } from './facts.js';
export { PLANNABLE, resolveStrategies } from '../strategies/compose.js';

export const PLAN_SCHEMA = 'pyfloppy.plan/1';

/** A file as the plan saw it. Big integers are decimal strings (JSON has no 64-bit integers). */
export interface PlanFingerprint {
  dev: string;
  ino: string;
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  /** SHA-256 of the content, hex; absent for directories. */
  sha256?: string;
}

/** Bytes the plan carries (base64): pyfloppy's runtime (src/strategies/runtime.ts), a rewritten RECORD. */
export interface InlineContent {
  inline: string;
  sha256: string;
}

/** What a new file is made of: nothing, or a file of the tree read (and checked against `fp`) at apply. */
export type WriteContent =
  | { empty: true }
  | { gzipOf: string; fp: PlanFingerprint }
  | { relocateOf: string; fp: PlanFingerprint; filename: string }
  | InlineContent;

/** A member of an archive: the file `from`; a cache relocated to name `filename` (src/python/relocate.ts). */
export interface ZipMemberOp {
  name: string;
  from: string;
  fp: PlanFingerprint;
  filename?: string;
}

export type PlanOperation =
  | { op: 'remove'; path: string; fp: PlanFingerprint; frees: Bytes }
  /** Replace `path` by a hardlink to `target` (byte-identical). */
  | { op: 'link'; path: string; target: string; fp: PlanFingerprint; targetFp: PlanFingerprint; frees: Bytes }
  /** Rename `from` to `to`, which must not exist. */
  | { op: 'move'; from: string; to: string; fp: PlanFingerprint }
  /**
   * Create `path` (which must not exist): empty, the gzip (level 6) of `gzipOf`, or the bytecode
   * `relocateOf` with every code object naming `filename` (src/python/relocate.ts).
   */
  | { op: 'write'; path: string; mode: number; content: WriteContent; size: number }
  /**
   * Create the archive `path` (which must not exist) from `members`, as src/plan/zip.ts builds it: `size`
   * bytes with this SHA-256. The one path that may leave the root: `../pythonXY.zip` for a stdlib root, the
   * archive its interpreter has on sys.path.
   */
  | {
      op: 'zip';
      path: string;
      mode: number;
      members: ZipMemberOp[];
      size: number;
      sha256: string;
    }
  | { op: 'mkdir'; path: string; mode: number }
  /**
   * Replace the file `path` (as `fp` recorded it) by the carried bytes: a distribution's RECORD or
   * installed-files.txt rewritten to name the files the plan leaves (src/plan/record.ts).
   */
  | { op: 'replace'; path: string; fp: PlanFingerprint; mode: number; content: InlineContent; size: number }
  /** Remove the directory `path`, which the earlier operations left empty. */
  | { op: 'rmdir'; path: string; fp: PlanFingerprint; frees: Bytes };

export interface Plan {
  schema: typeof PLAN_SCHEMA;
  generator: { name: 'pyfloppy'; version: string };
  created: string;
  /** The tree, absolute and resolved, and its directory's identity. */
  root: string;
  rootFp: { dev: string; ino: string };
  /** The strategies carried out, in composition order. */
  strategies: string[];
  /** What was asked for (catalog ids and combinations). */
  requested: string[];
  /** Strategies that cannot be carried out on this tree, and why. */
  refused: Array<{ strategy: string; why: string }>;
  /** Parts of the tree left as they are, and why (e.g. a stale level-0 cache keeps its source). */
  notes: string[];
  /** The cache tag the bytecode strategies act on. */
  cacheTag: string | null;
  /** Optimization levels whose imports are served by shipped bytecode after the plan (no compile, no write). */
  shippedLevels: number[];
  /** Dotted names of modules the plan removes on purpose (strip-tests); verify does not count them. */
  removedModules: string[];
  /** What the operations free (removed names, links, minus new files), and the catalog's estimate. */
  saved: Bytes;
  estimate: Bytes | null;
  counts: Record<PlanOperation['op'], number>;
  operations: PlanOperation[];
}

export interface PlanOptions {
  strategies: readonly string[];
  path: string;
  /** The cache tag to act on (default: the tree's dominant one). */
  cacheTag?: string;
  /**
   * The root's path when Python runs the tree, for the file names of relocated bytecode (compileall's -d);
   * default: its real path now.
   */
  dest?: string;
  workers?: number;
  onProgress?: (entries: number, apparentBytes: number) => void;
  /** The tree's interpreter, which compiles the runtime's caches (default: PREFIX/bin/pythonX.Y). */
  python?: string;
  /** false: install no runtime for no-bytecode, pysources or opt-fallback. */
  runtime?: boolean;
}

/** Build the plan for one tree. */
export async function plan(options: PlanOptions): Promise<Plan> {
  const { ids, refused } = resolveStrategies(options.strategies);
  const { model, real } = await treeModel(options);
  return await planModel(model, real, options.strategies, ids, refused, options);
}

/** The model of one tree a plan is made for: a readable directory, by its real path. */
export async function treeModel(
  options: Pick<PlanOptions, 'path' | 'workers' | 'onProgress' | 'dest'>,
): Promise<{ model: Model; real: string }> {
  const root = path.resolve(options.path);
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new PyfloppyError('ENOTFOUND', `${options.path}: no such directory`);
  }
  if (!st.isDirectory()) throw new PyfloppyError('ENOTDIR', `${options.path}: not a directory`);
  requireReadableRoot(options.path);
  const real = fs.realpathSync(root);
  if (options.dest !== undefined && !path.isAbsolute(options.dest))
    throw new PyfloppyError('EUSAGE', `--dest ${options.dest}: not an absolute path`);
  const model = await buildModel({
    paths: [real],
    ...(options.workers === undefined ? {} : { workers: options.workers }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  return { model, real };
}

/** The cache tag to act on: the one asked for (which the tree must have), else the tree's dominant one. */
function chooseTag(model: Model, root: string, option?: string): string | null {
  const c = model.classification;
  if (option !== undefined && !c.tags.includes(option))
    throw new PyfloppyError('EUSAGE', `no cache of tag ${option} in ${root}`);
  return option ?? dominantTag(c);
}

/** The facts a plan composes over: the real tree's (fresh caches, names taken, the archive, the runtime). */
export function planFacts(
  ctx: EstimateContext,
  model: Model,
  root: string,
  options: Pick<PlanOptions, 'cacheTag' | 'dest' | 'python' | 'runtime'>,
): Facts {
  const cacheTag = chooseTag(model, root, options.cacheTag);
  const dest = options.dest === undefined ? root : path.normalize(options.dest);
  const runtime = {
    ...(options.python === undefined ? {} : { python: options.python }),
    ...(options.runtime === undefined ? {} : { runtime: options.runtime }),
  };
  return treeFacts(ctx, model, root, cacheTag, dest, runtime);
}

export async function planModel(
  model: Model,
  root: string,
  requested: readonly string[],
  ids: string[],
  refused: Plan['refused'],
  options: Pick<PlanOptions, 'cacheTag' | 'dest' | 'python' | 'runtime'> & {
    /** Sees the layout's operations once the plan has sized them (fit measures the result with them). */
    onLayout?: (ops: readonly LayoutOp[]) => void;
  } = {},
): Promise<Plan> {
  if ((model.scan.roots[0]?.entry ?? -1) === -1)
    throw new PyfloppyError('EINTERNAL', `${root}: the scan did not reach the root`);
  const ctx = new EstimateContext(model);
  const facts = planFacts(ctx, model, root, options);
  const cacheTag = facts.cacheTag;
  const layout = compose(facts, ids);
  refused.push(...layout.refused);
  const hashes = new Map<string, string>();
  const operations = withListsRewritten(layout, await materialize(layout, hashes), root, hashes);
  options.onLayout?.(layout.ops);
  // What the plan frees: the same accounting as the estimates, over the sizes of the bytes it makes.
  const saved = bytesFreed(ctx, layout.ops);
  attributeFrees(operations, model, layout.removed);
  const counts = { remove: 0, link: 0, move: 0, write: 0, replace: 0, zip: 0, mkdir: 0, rmdir: 0 };
  for (const o of operations) counts[o.op]++;
  const catalogId = requested.length === 1 ? requested[0]! : ids.join('+');
  const rootStat = fs.statSync(root, { bigint: true });
  return {
    schema: PLAN_SCHEMA,
    generator: { name: 'pyfloppy', version: VERSION },
    created: new Date().toISOString(),
    root,
    rootFp: { dev: rootStat.dev.toString(), ino: rootStat.ino.toString() },
    strategies: ids,
    requested: [...requested],
    refused,
    notes: layout.notes,
    cacheTag,
    shippedLevels: [...layout.shipped].sort(),
    removedModules: [...layout.removedModules].sort(),
    saved,
    estimate: estimateById(ctx, catalogId)?.saved ?? null,
    counts,
    operations,
  };
}

/** Credit each remove the bytes it frees: the last removed name of an inode with no name left. */
function attributeFrees(ops: PlanOperation[], model: Model, removed: Uint8Array): void {
  const t = model.scan.table;
  const byInode = new Map<string, { ops: number[]; nlink: number; size: number; blocks: number }>();
  const index = new Map<string, number>();
  for (let i = 0; i < t.count; i++) if (removed[i] === 1) index.set(t.relativePath(i), i);
  ops.forEach((o, n) => {
    if (o.op !== 'remove' && o.op !== 'rmdir') return;
    const i = index.get(o.path);
    if (i === undefined) return;
    const key = `${o.fp.dev}:${o.fp.ino}`;
    const e = byInode.get(key) ?? { ops: [], nlink: t.nlink[i]!, size: t.size[i]!, blocks: t.blocks[i]! };
    e.ops.push(n);
    byInode.set(key, e);
  });
  for (const e of byInode.values()) {
    const last = ops[e.ops.at(-1)!]!;
    if ((last.op === 'remove' || last.op === 'rmdir') && (e.ops.length >= e.nlink || last.op === 'rmdir'))
      last.frees = { apparentBytes: e.size, allocatedBytes: e.blocks * 512 };
  }
}
