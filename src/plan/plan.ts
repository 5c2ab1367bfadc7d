/**
 * `plan`: turn strategies into a reviewable list of file operations on one tree, each carrying the
 * fingerprint (dev, ino, size, mtime, ctime, SHA-256) of every file it touches, so that `apply` can refuse a
 * tree that changed since. Read-only: scans, classifies, reads the bytes it hashes and compresses, and
 * writes nothing.
 *
 * Operations are paths relative to the root (never absolute, never `..`, but for a stdlib root's
 * `../pythonXY.zip`), in the order apply carries them out: an archive or a new name exists before the old
 * names go, and directories go after their files.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { PyfloppyError } from '../errors.js';
import type { Bytes } from '../model/footprint.js';
import { K_BYTECODE0, K_BYTECODE1, K_BYTECODE2, K_DIRECTORY, K_SOURCE } from '../model/kinds.js';
import { buildModel, type Model } from '../model/model.js';
import { dottedName } from '../model/classify.js';
import { inspectPyc } from '../check/inspect.js';
import { parseCacheName } from '../python/layout.js';
import { stdlibRoot } from '../python/stdlib.js';
import { STRATEGIES } from '../strategies/catalog.js';
import { DEFLATE_LEVEL, EstimateContext } from '../strategies/context.js';
import { pathOf, TYPE_DIR, TYPE_FILE } from '../scan/table.js';
import { VERSION } from '../version.js';
import { dominantTag, type ZipScope, zipSelection } from '../strategies/zip.js';
import { buildZip, type ZipInput } from './zip.js';

export { parsePlan, relPaths } from './validate.js';

export const PLAN_SCHEMA = 'pyfloppy.plan/1';

/** Strategies `plan` can carry out, in the order they compose (earlier ones decide what later ones see). */
export const PLANNABLE = [
  'strip-tests',
  'zip-data',
  'zip-stdlib',
  'drop-opt2',
  'drop-optimized',
  'no-bytecode',
  'sourceless',
  'pysources',
  'dedup',
] as const;
export type PlannableId = (typeof PLANNABLE)[number];

/** Catalog strategies `plan` knows but cannot carry out yet, with the reason the plan gives. */
const NOT_PLANNABLE: Record<string, string> = {
  'dead-batteries': 'removing modules code may import is a decision for upstream (PEP 594 did it)',
  'dev-modules': 'a sub-package split, not a change to the tree: use `pyfloppy split`',
  'compress-pyc': 'needs a compressed-pyc format CPython does not have',
  'no-python': 'for scale only',
  'status-quo': 'changes nothing',
};

/** Named combinations of the catalog that are plannable as their parts. */
const COMBINATIONS: Record<string, PlannableId[]> = {
  'py-and-pyc0': ['drop-optimized'],
  'drop-opt2+dedup': ['drop-opt2', 'dedup'],
  'drop-optimized+dedup': ['drop-optimized', 'dedup'],
};

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

export type PlanOperation =
  | { op: 'remove'; path: string; fp: PlanFingerprint; frees: Bytes }
  /** Replace `path` by a hardlink to `target` (byte-identical). */
  | { op: 'link'; path: string; target: string; fp: PlanFingerprint; targetFp: PlanFingerprint; frees: Bytes }
  /** Rename `from` to `to`, which must not exist. */
  | { op: 'move'; from: string; to: string; fp: PlanFingerprint }
  /** Create `path` (which must not exist): empty, or the gzip (level 6) of `gzipOf`. */
  | {
      op: 'write';
      path: string;
      mode: number;
      content: { empty: true } | { gzipOf: string; fp: PlanFingerprint };
      size: number;
    }
  /**
   * Create the archive `path` (which must not exist) from `members`, as src/plan/zip.ts builds it: `size`
   * bytes with this SHA-256. The one path that may leave the root: `../pythonXY.zip` for a stdlib root, the
   * archive its interpreter has on sys.path.
   */
  | {
      op: 'zip';
      path: string;
      mode: number;
      members: Array<{ name: string; from: string; fp: PlanFingerprint }>;
      size: number;
      sha256: string;
    }
  | { op: 'mkdir'; path: string; mode: number }
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
  strategies: PlannableId[];
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
  workers?: number;
  onProgress?: (entries: number, apparentBytes: number) => void;
}

/** Expand requested ids (catalog ids, named combinations) into plannable ids, or refusals. */
export function resolveStrategies(requested: readonly string[]): {
  ids: PlannableId[];
  refused: Plan['refused'];
} {
  const ids = new Set<PlannableId>();
  const refused: Plan['refused'] = [];
  for (const r of requested) {
    if ((PLANNABLE as readonly string[]).includes(r)) ids.add(r as PlannableId);
    else if (COMBINATIONS[r] !== undefined) for (const p of COMBINATIONS[r]) ids.add(p);
    else if (NOT_PLANNABLE[r] !== undefined) refused.push({ strategy: r, why: NOT_PLANNABLE[r] });
    else {
      const known = [...PLANNABLE, ...Object.keys(COMBINATIONS)].join(', ');
      throw new PyfloppyError('EUSAGE', `unknown strategy '${r}'`, { hint: `plannable: ${known}` });
    }
  }
  const conflict = (a: PlannableId, b: PlannableId, why: string): void => {
    if (ids.has(a) && ids.has(b))
      throw new PyfloppyError('EUSAGE', `${a} and ${b} cannot be combined: ${why}`);
  };
  conflict('no-bytecode', 'sourceless', 'one ships only sources, the other only bytecode');
  conflict('no-bytecode', 'pysources', 'one ships only sources, the other only bytecode');
  conflict('sourceless', 'pysources', 'pysources is sourceless with the sources kept compressed');
  return { ids: PLANNABLE.filter((p) => ids.has(p)), refused };
}

function fingerprint(abs: string, hash: boolean): PlanFingerprint {
  const st = fs.lstatSync(abs, { bigint: true });
  const fp: PlanFingerprint = {
    dev: st.dev.toString(),
    ino: st.ino.toString(),
    size: Number(st.size),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
  };
  if (hash && st.isFile()) fp.sha256 = sha256File(abs);
  return fp;
}

/**
 * The SHA-256 of a file, opened without following a symlink. With `size` (what lstat said a moment ago), at
 * most size + 1 bytes are read into one buffer, without asking the size again: a file that grew since hashes
 * to something else all the same.
 */
export function sha256File(abs: string, size?: number): string {
  const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const hash = crypto.createHash('sha256');
    if (size === undefined) return hash.update(fs.readFileSync(fd)).digest('hex');
    const buf = Buffer.allocUnsafe(size + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = fs.readSync(fd, buf, n, buf.length - n, null);
    return hash.update(buf.subarray(0, n)).digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/** The gzip member `write` creates for a source: zlib level 6, no name, mtime 0 (reproducible). */
export function gzipSource(data: Uint8Array): Buffer {
  return zlib.gzipSync(data, { level: DEFLATE_LEVEL });
}

const ZERO: Bytes = { apparentBytes: 0, allocatedBytes: 0 };

/** Build the plan for one tree. */
export async function plan(options: PlanOptions): Promise<Plan> {
  const { ids, refused } = resolveStrategies(options.strategies);
  const root = path.resolve(options.path);
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new PyfloppyError('ENOTFOUND', `${options.path}: no such directory`);
  }
  if (!st.isDirectory()) throw new PyfloppyError('ENOTDIR', `${options.path}: not a directory`);
  const real = fs.realpathSync(root);
  const model = await buildModel({
    paths: [real],
    ...(options.workers === undefined ? {} : { workers: options.workers }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  return await planModel(model, real, options.strategies, ids, refused, options.cacheTag);
}

/** The tree's state as the planners compose: which entries are gone, moved, replaced. */
class Composer {
  readonly removed: Uint8Array;
  readonly ops: PlanOperation[] = [];
  readonly notes: string[] = [];
  /** Link frees, by the replaced entry. */
  readonly linkFrees: Bytes[] = [];
  readonly removedModules = new Set<string>();
  /** Directories that get new files (they stay even when everything they had goes). */
  readonly receives = new Set<number>();
  /** Entries moved (still one inode, another name). */
  readonly moved: Uint8Array;

  constructor(
    readonly model: Model,
    readonly root: string,
    readonly ctx: EstimateContext,
  ) {
    this.removed = new Uint8Array(model.scan.table.count);
    this.moved = new Uint8Array(model.scan.table.count);
  }

  rel(i: number): string {
    return this.model.scan.table.relativePath(i);
  }

  abs(i: number): string {
    return pathOf(this.model.scan.table, i) as string;
  }

  alive(i: number): boolean {
    return i !== -1 && this.removed[i] === 0 && this.moved[i] === 0;
  }

  remove(i: number): void {
    if (!this.alive(i)) return;
    this.removed[i] = 1;
    this.ops.push({ op: 'remove', path: this.rel(i), fp: fingerprint(this.abs(i), true), frees: ZERO });
  }
}

/** Entries whose names are not valid UTF-8 cannot be written into a JSON plan: they are left alone. */
function utf8Name(model: Model, i: number): boolean {
  for (let j = i; j !== -1; j = model.scan.table.parent[j]!) {
    if (typeof model.scan.table.name[j] !== 'string') return false;
  }
  return true;
}

export async function planModel(
  model: Model,
  root: string,
  requested: readonly string[],
  ids: PlannableId[],
  refused: Plan['refused'],
  cacheTagOption?: string,
): Promise<Plan> {
  const t = model.scan.table;
  const c = model.classification;
  const rootEntry = model.scan.roots[0]?.entry ?? -1;
  if (rootEntry === -1) throw new PyfloppyError('EINTERNAL', `${root}: the scan did not reach the root`);
  const ctx = new EstimateContext(model);
  const k = new Composer(model, root, ctx);
  const cacheTag = cacheTagOption ?? dominantTag(c);
  const tagIndex = cacheTag === null ? -1 : c.tags.indexOf(cacheTag);
  if (cacheTagOption !== undefined && tagIndex === -1)
    throw new PyfloppyError('EUSAGE', `no cache of tag ${cacheTagOption} in ${root}`);
  const realDev = t.dev[rootEntry]!;
  const ok = (i: number): boolean => i !== -1 && utf8Name(model, i) && t.dev[i] === realDev;
  let shipped = new Set([0, 1, 2]);

  // Sources by (directory, module name), for the bytecode layouts.
  const sourceOf = new Map<string, number>();
  for (let i = 0; i < t.count; i++) {
    if (c.kind[i] === K_SOURCE) sourceOf.set(`${t.parent[i]}/${(t.name[i] as string).slice(0, -3)}`, i);
  }
  const groupsOfTag: number[] = [];
  for (let g = 0; g < c.bytecode.count; g++) if (c.bytecode.tag[g] === tagIndex) groupsOfTag.push(g);
  const level = (g: number, l: number): number => c.bytecode.levels[3 * g + l]!;

  for (const id of ids) {
    switch (id) {
      case 'strip-tests': {
        for (let i = 0; i < t.count; i++) {
          if (c.test[i] === 1 && t.type[i] !== TYPE_DIR && ok(i)) {
            k.remove(i);
            const isTop = c.test[t.parent[i]!] !== 1;
            if (isTop || (t.name[i] as string) === '__init__.py') {
              const m = dottedName(t, c, i);
              if (m !== '') k.removedModules.add(m);
            }
          }
        }
        break;
      }
      case 'zip-data':
      case 'zip-stdlib': {
        // One archive: zip-stdlib holds what zip-data would.
        if (id === 'zip-data' && ids.includes('zip-stdlib')) break;
        const where = stdlibZip(root, t.dev[rootEntry]!);
        if ('why' in where) {
          refused.push({ strategy: id, why: where.why });
          break;
        }
        await zipLayoutPlan(k, id === 'zip-data' ? 'data' : 'stdlib', ok, where.rel, cacheTag);
        break;
      }
      case 'drop-opt2':
      case 'drop-optimized': {
        const lv = id === 'drop-opt2' ? [K_BYTECODE2] : [K_BYTECODE1, K_BYTECODE2];
        for (let i = 0; i < t.count; i++) if (lv.includes(c.kind[i]!) && ok(i)) k.remove(i);
        shipped = new Set([...shipped].filter((l) => (id === 'drop-opt2' ? l < 2 : l === 0)));
        break;
      }
      case 'no-bytecode': {
        // Option 1: every cache goes; a __dont_write_bytecode__ marker in each __pycache__ asks Python not
        // to write new ones (CPython does not read it: verify shows the write attempts it still makes).
        const pycaches = new Set<number>();
        for (let i = 0; i < t.count; i++) {
          const kind = c.kind[i]!;
          if (kind >= K_BYTECODE0 && kind <= K_BYTECODE2 && ok(i) && k.alive(i)) pycaches.add(t.parent[i]!);
        }
        for (const d of [...pycaches].sort((a, b) => a - b)) {
          k.receives.add(d);
          const marker = `${k.rel(d)}/__dont_write_bytecode__`;
          if (fs.existsSync(path.join(root, marker))) continue;
          k.ops.push({ op: 'write', path: marker, mode: 0o644, content: { empty: true }, size: 0 });
        }
        for (let i = 0; i < t.count; i++) {
          const kind = c.kind[i]!;
          if (kind >= K_BYTECODE0 && kind <= K_BYTECODE2 && ok(i)) k.remove(i);
        }
        shipped = new Set();
        break;
      }
      case 'sourceless':
      case 'pysources': {
        sourcelessLayout(k, groupsOfTag, level, sourceOf, ok, id === 'pysources');
        break;
      }
      case 'dedup': {
        // A level linked to an earlier one shares its inode: a later link targets the inode's first name.
        const survivor = new Map<number, number>();
        for (const g of groupsOfTag) {
          const bits = model.identity.pairBits[g]!;
          const present = [0, 1, 2].filter((l) => level(g, l) !== -1 && k.alive(level(g, l)));
          // compileall --hardlink-dupes: each level present with the previous one present.
          for (let n = 1; n < present.length; n++) {
            const a = present[n - 1]!;
            const b = present[n]!;
            const bit = a === 0 && b === 1 ? 1 : a === 1 && b === 2 ? 2 : 4;
            if ((bits & bit) === 0 || (bits & (bit << 3)) !== 0) continue;
            const target = survivor.get(level(g, a)) ?? level(g, a);
            const later = level(g, b);
            if (!ok(target) || !ok(later) || t.size[later] === 0) continue;
            const frees =
              t.nlink[later]! <= 1
                ? { apparentBytes: t.size[later]!, allocatedBytes: t.blocks[later]! * 512 }
                : ZERO;
            k.ops.push({
              op: 'link',
              path: k.rel(later),
              target: k.rel(target),
              fp: fingerprint(k.abs(later), true),
              targetFp: fingerprint(k.abs(target), true),
              frees,
            });
            k.linkFrees.push(frees);
            survivor.set(later, target);
          }
        }
        break;
      }
    }
  }

  // Directories the operations leave empty go too (after their files, deepest first), as the estimates
  // count them; a root and sys.path directories stay.
  // A directory the scan did not read completely (or holding names the plan cannot carry) is not known to
  // be emptied: it stays, and so do the directories above it.
  const keep = new Set([...k.receives, ...unplannable(k, ok)]);
  const gone = ctx.emptiedDirectories((i) => k.removed[i] === 1 || k.moved[i] === 1, keep);
  for (let i = t.count - 1; i >= 0; i--) {
    if (gone[i] !== 1 || c.kind[i] !== K_DIRECTORY || !ok(i)) continue;
    k.removed[i] = 1;
    k.ops.push({ op: 'rmdir', path: k.rel(i), fp: fingerprint(k.abs(i), false), frees: ZERO });
  }

  // What the plan frees: removed names through the same per-inode accounting as the estimates, plus links,
  // minus new files and directories.
  const freedNames = ctx.freed((i) => k.removed[i] === 1);
  let saved = { ...freedNames };
  for (const f of k.linkFrees) saved = addBytes(saved, f);
  for (const o of k.ops) {
    if (o.op === 'write' || o.op === 'zip') saved = subBytes(saved, ctx.newFile(o.size));
    if (o.op === 'mkdir')
      saved = subBytes(saved, { apparentBytes: ctx.blockSize, allocatedBytes: ctx.blockSize });
  }
  attributeFrees(k, model);

  const counts = { remove: 0, link: 0, move: 0, write: 0, zip: 0, mkdir: 0, rmdir: 0 };
  for (const o of k.ops) counts[o.op]++;
  const catalogId = requested.length === 1 ? requested[0]! : ids.join('+');
  const entry = STRATEGIES.find((s) => s.id === catalogId);
  let estimate: Bytes | null = null;
  if (entry !== undefined) {
    estimate = entry.estimate(ctx).saved;
  }
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
    notes: k.notes,
    cacheTag,
    shippedLevels: [...shipped].sort(),
    removedModules: [...k.removedModules].sort(),
    saved,
    estimate,
    counts,
    operations: k.ops,
  };
}

/** At most this many paths named in a note; the rest are counted. */
const NOTE_PATHS = 10;

function listed(paths: string[]): string {
  const more = paths.length - NOTE_PATHS;
  // A path past PATH_MAX is over 4 KB: its start and end say where it is.
  const short = (p: string): string => (p.length <= 240 ? p : `${p.slice(0, 120)}...${p.slice(-120)}`);
  return [...paths].sort().slice(0, NOTE_PATHS).map(short).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/**
 * Directories whose content the plan cannot know whole or cannot name, with a note for each kind: those the
 * scan could not read (or that hold an entry it could not lstat: a path longer than PATH_MAX, 4096 bytes,
 * fails with ENAMETOOLONG), and those holding a name that is not UTF-8 (a plan is JSON: its strings cannot
 * carry such a name) or a mount of another file system. None of them may be planned as emptied.
 */
function unplannable(k: Composer, ok: (i: number) => boolean): number[] {
  const t = k.model.scan.table;
  const dirs = new Map<string, number>();
  const pinned: number[] = [];
  const notUtf8: string[] = [];
  for (let i = 0; i < t.count; i++) {
    if (t.type[i] === TYPE_DIR) {
      dirs.set(t.displayPath(i), i);
      if (!ok(i)) pinned.push(i);
    }
    const p = t.parent[i]!;
    if (typeof t.name[i] !== 'string' && p !== -1 && utf8Name(k.model, p)) notUtf8.push(k.rel(i));
  }
  const byWhy = new Map<string, string[]>();
  for (const pr of k.model.scan.problems) {
    // The problem is the directory itself (not read) or an entry in it (not lstat'ed).
    const d = dirs.get(pr.path) ?? dirs.get(path.dirname(pr.path));
    if (d !== undefined) pinned.push(d);
    const why = pr.code === 'ENAMETOOLONG' ? 'longer than PATH_MAX (4096 bytes)' : pr.message;
    const rel = pr.path.startsWith(`${k.root}/`) ? pr.path.slice(k.root.length + 1) : pr.path;
    byWhy.set(why, [...(byWhy.get(why) ?? []), rel]);
  }
  for (const [why, paths] of byWhy)
    k.notes.push(
      `not read (${why}): nothing in them is planned, and the directories holding them stay: ${listed(paths)}`,
    );
  if (notUtf8.length > 0)
    k.notes.push(
      `left as they are, their names are not UTF-8 (a JSON plan cannot name them): ${listed(notUtf8)}`,
    );
  return pinned;
}

/**
 * Levels 0 moved to where the sources were (`mod.pyc`, which CPython's sourceless loader imports at every
 * optimization level), sources removed (or, for pysources, kept gzip-compressed in `__pysources__/`), levels
 * 1 and 2 removed. A module keeps its source when its level-0 cache is stale, unreadable or of another
 * interpreter, or when a legacy `mod.pyc` is already there.
 */
function sourcelessLayout(
  k: Composer,
  groups: number[],
  level: (g: number, l: number) => number,
  sourceOf: Map<string, number>,
  ok: (i: number) => boolean,
  keepSources: boolean,
): void {
  const t = k.model.scan.table;
  const made = new Set<string>();
  let stale = 0;
  for (const g of groups) {
    const l0 = level(g, 0);
    if (l0 === -1 || !k.alive(l0) || !ok(l0)) continue;
    const pycache = t.parent[l0]!;
    const dir = t.parent[pycache]!;
    const mod = parseCacheName(t.name[l0] as string)?.module;
    if (mod === undefined) continue;
    const src = sourceOf.get(`${dir}/${mod}`);
    if (src === undefined || !k.alive(src) || !ok(src) || t.type[src] !== TYPE_FILE) continue;
    const inspection = inspectPyc(k.abs(l0), k.abs(src));
    const fresh =
      inspection.ok &&
      inspection.source.state === 'regular' &&
      (inspection.invalidation === 'timestamp'
        ? inspection.mtime === inspection.source.mtime && inspection.sourceSize === inspection.source.size
        : inspection.source.hashMatches === true);
    if (!fresh) {
      stale++;
      continue;
    }
    const dirRel = k.rel(dir);
    const legacy = dirRel === '' ? `${mod}.pyc` : `${dirRel}/${mod}.pyc`;
    if (fs.existsSync(path.join(k.root, legacy))) {
      k.notes.push(`${legacy} exists: ${k.rel(src)} keeps its source`);
      continue;
    }
    if (keepSources) {
      const store = dirRel === '' ? '__pysources__' : `${dirRel}/__pysources__`;
      if (!made.has(store)) {
        if (fs.existsSync(path.join(k.root, store))) {
          k.notes.push(`${store} exists: its directory keeps its sources`);
          continue;
        }
        made.add(store);
        k.ops.push({ op: 'mkdir', path: store, mode: 0o755 });
      }
      // One read of the source: hashed for its fingerprint and compressed for the size of the .gz.
      const srcFp = fingerprint(k.abs(src), false);
      const data = fs.readFileSync(k.abs(src));
      srcFp.sha256 = crypto.createHash('sha256').update(data).digest('hex');
      k.ops.push({
        op: 'write',
        path: `${store}/${mod}.py.gz`,
        mode: Number(t.mode[src]!) & 0o7777,
        content: { gzipOf: k.rel(src), fp: srcFp },
        size: gzipSource(data).length,
      });
    }
    k.ops.push({ op: 'move', from: k.rel(l0), to: legacy, fp: fingerprint(k.abs(l0), true) });
    k.moved[l0] = 1;
    k.receives.add(dir);
    k.remove(src);
    for (const l of [1, 2]) {
      const e = level(g, l);
      if (e !== -1 && ok(e)) k.remove(e);
    }
  }
  if (stale > 0)
    k.notes.push(`${stale} sources keep their source: their level-0 cache is stale or unreadable`);
}

/**
 * Where a stdlib root's archive goes: `pythonXY.zip` beside the `pythonX.Y` directory (PREFIX/lib), which
 * getpath puts on sys.path before the directory itself; on the root's device, as the journal links it there.
 */
export function stdlibZip(root: string, rootDev: number): { rel: string } | { why: string } {
  const stdlib = stdlibRoot(root);
  if (stdlib === null)
    return {
      why: 'needs a stdlib root (a pythonX.Y directory with os.py): only the pythonXY.zip beside it is on sys.path',
    };
  const rel = stdlib.archive;
  const abs = path.join(root, rel);
  if (fs.lstatSync(abs, { throwIfNoEntry: false }) !== undefined)
    return { why: `${abs} exists: pyfloppy does not add to an existing archive` };
  if (fs.statSync(path.dirname(abs)).dev !== rootDev)
    return { why: `${path.dirname(abs)} is on another file system than the root` };
  return { rel };
}

/** The zip layouts: members read once (hashed and zipped), the archive built to know its size and hash. */
async function zipLayoutPlan(
  k: Composer,
  scope: ZipScope,
  ok: (i: number) => boolean,
  rel: string,
  cacheTag: string | null,
): Promise<void> {
  const t = k.model.scan.table;
  const sel = zipSelection(k.ctx, scope, cacheTag);
  let stale = 0;
  const members: Array<{ name: string; from: string; fp: PlanFingerprint }> = [];
  const inputs: ZipInput[] = [];
  for (const m of sel.members) {
    if (!ok(m.entry) || !k.alive(m.entry)) continue;
    // A cache zipimport would find stale (it compiles the source in memory instead) is not worth its bytes.
    if (m.source !== undefined && !zipFresh(k.abs(m.entry), k.abs(m.source))) {
      stale++;
      continue;
    }
    const fp = fingerprint(k.abs(m.entry), false);
    const data = fs.readFileSync(k.abs(m.entry));
    fp.sha256 = crypto.createHash('sha256').update(data).digest('hex');
    members.push({ name: m.name, from: k.rel(m.entry), fp });
    inputs.push(zipInput(m.name, data, fp));
  }
  if (members.length === 0) return;
  const bytes = await buildZip(inputs);
  k.ops.push({
    op: 'zip',
    path: rel,
    mode: 0o644,
    members,
    size: bytes.length,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
  });
  for (let i = 0; i < t.count; i++) if (sel.remove[i] === 1 && ok(i)) k.remove(i);
  const why = new Map<string, string[]>();
  for (const { name, why: w } of sel.kept) if (w !== 'not UTF-8') why.set(w, [...(why.get(w) ?? []), name]);
  for (const [w, names] of why) k.notes.push(`kept on disk: ${names.join(', ')}: ${w}`);
  if (sel.notUtf8.length > 0)
    k.notes.push(
      `kept on disk with their top-level package, as zipimport would show no source lines for them (not UTF-8): ${sel.notUtf8.join(', ')}`,
    );
  if (stale > 0)
    k.notes.push(
      `${stale} level-0 caches not zipped (their sources are zipped alone): stale, or their source's mtime is before 1980 (a zip cannot hold it), so zipimport would not use them`,
    );
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  k.notes.push(
    `${rel.slice(3)}: zipimport loads level-0 bytecode at -O and -OO too (asserts and docstrings stay); it checks each .pyc against its source's time in the archive, written in local time (${zone}): run Python in the same timezone, or it compiles those modules in memory at every start`,
  );
}

/**
 * Whether zipimport will use this level-0 cache: fresh against its source (timestamp and size, or hash),
 * and the source's time representable as a DOS date (1980-2107, local time; yazl clamps others, and
 * zipimport would then find the cache stale).
 */
function zipFresh(cache: string, source: string): boolean {
  const i = inspectPyc(cache, source);
  if (!i.ok || i.source.state !== 'regular') return false;
  if (i.invalidation !== 'timestamp') return i.source.hashMatches === true;
  const year = new Date(i.source.mtime * 1000).getFullYear();
  return i.mtime === i.source.mtime && i.sourceSize === i.source.size && year >= 1980 && year <= 2107;
}

/** A zip member from a planned file: the file's mode and mtime. */
export function zipInput(name: string, data: Uint8Array, fp: PlanFingerprint): ZipInput {
  return { name, data, mtime: new Date(Number(BigInt(fp.mtimeNs) / 1_000_000n)), mode: 0o100644 };
}

/** Credit each remove the bytes it frees: the last removed name of an inode with no name left. */
function attributeFrees(k: Composer, model: Model): void {
  const t = model.scan.table;
  const byInode = new Map<string, { ops: number[]; nlink: number; size: number; blocks: number }>();
  const index = new Map<string, number>();
  for (let i = 0; i < t.count; i++) if (k.removed[i] === 1) index.set(k.rel(i), i);
  k.ops.forEach((o, n) => {
    if (o.op !== 'remove' && o.op !== 'rmdir') return;
    const i = index.get(o.path);
    if (i === undefined) return;
    const key = `${o.fp.dev}:${o.fp.ino}`;
    const e = byInode.get(key) ?? { ops: [], nlink: t.nlink[i]!, size: t.size[i]!, blocks: t.blocks[i]! };
    e.ops.push(n);
    byInode.set(key, e);
  });
  for (const e of byInode.values()) {
    const last = k.ops[e.ops.at(-1)!]!;
    if ((last.op === 'remove' || last.op === 'rmdir') && (e.ops.length >= e.nlink || last.op === 'rmdir'))
      last.frees = { apparentBytes: e.size, allocatedBytes: e.blocks * 512 };
  }
}

function addBytes(a: Bytes, b: Bytes): Bytes {
  return {
    apparentBytes: a.apparentBytes + b.apparentBytes,
    allocatedBytes: a.allocatedBytes + b.allocatedBytes,
  };
}

function subBytes(a: Bytes, b: Bytes): Bytes {
  return {
    apparentBytes: a.apparentBytes - b.apparentBytes,
    allocatedBytes: a.allocatedBytes - b.allocatedBytes,
  };
}
