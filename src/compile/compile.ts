/**
 * `compile`: what `python -m compileall -o ... --hardlink-dupes` does, with each source read once, each
 * distinct cache written once and identical levels linked. The target interpreter compiles (bytecode is
 * version-specific) in long-lived workers running python/compile_worker.py; this side walks the tree as
 * compileall walks it and places the caches through src/fsops/cache.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errnoCode, PyfloppyError } from '../errors.js';
import { requireReadableRoot } from '../scan/scan.js';
import { Anchor, AnchorError } from '../fsops/anchor.js';
import { CacheWriteError, ensureCacheDir, linkCache, writeCache } from '../fsops/cache.js';
import { asRunError } from '../fsops/anchored.js';
import { realCalls, removeStaleTemp } from '../fsops/link.js';
import { lockTree, type TreeLock } from '../fsops/lock.js';
import { ANY_TEMP_NAME } from '../fsops/temp.js';
import { describeInterpreter } from '../python/interpreter.js';
import {
  type CompileWorker,
  type Frame,
  type InvalidationMode,
  startCompileWorker,
  type WorkerHello,
} from './worker.js';

export type { InvalidationMode } from './worker.js';

export interface CompileOptions {
  /** Directories (walked) and files, as compileall's arguments. */
  paths: readonly string[];
  python?: string;
  /** Optimization levels (default [0]). */
  levels?: readonly number[];
  force?: boolean;
  /** Worker processes; 0 = one per core (default 1, as compileall). */
  jobs?: number;
  /** Skip paths this regular expression finds (compileall -x). */
  exclude?: RegExp;
  /** Skip symlinked sources whose target is not below this directory (compileall -e). */
  limitSymlinks?: string;
  ddir?: string;
  stripdir?: string;
  prependdir?: string;
  /** Directory levels to descend (compileall -r; default: unlimited). */
  maxlevels?: number;
  /** Default: checked-hash when SOURCE_DATE_EPOCH is set, else timestamp (py_compile's rule). */
  invalidationMode?: InvalidationMode;
  /** Link identical levels (default: when several levels are asked for). */
  dedup?: boolean;
  /** Called after each source is compiled (or found up to date, or failed): sources done of the total. */
  onProgress?: (done: number, total: number) => void;
  /** A test seam: called with a source's path right before its caches are placed. */
  beforePlace?: (source: string) => void;
  /**
   * A worker already started (startCompileWorker) for the same `python`: used instead of starting one (and
   * closed by compile). One for another interpreter is not used: the caller stops it (`dispose()`).
   */
  worker?: CompileWorker;
}

export interface CompileReport {
  schema: 'pyfloppy.compile/1';
  interpreter: { executable: string; version: string; cacheTag: string };
  levels: number[];
  sources: number;
  compiled: number;
  upToDate: number;
  written: number;
  linked: number;
  skipped: Array<{ path: string; reason: string }>;
  errors: Array<{ path: string; message: string }>;
  /** pyfloppy temporaries left by an interrupted run (a killed compile's partial caches), removed. */
  leftoversRemoved: string[];
}

interface Job {
  /** The path as compileall names it (walked from the argument as given). */
  path: string;
  dfile: string | null;
  /** The root its caches are placed through (the argument's directory, opened once), and the path below it. */
  anchor: Anchor;
  rel: string;
}

/** The directories compile changes, each opened once: a directory argument, or a file argument's parent. */
class Roots {
  readonly anchors = new Map<string, Anchor>();

  of(dir: string): Anchor {
    const real = fs.realpathSync(dir);
    let a = this.anchors.get(real);
    if (a === undefined) {
      // Why crossDevices: a tree may hold mount points; caches are written beside their sources in each.
      a = new Anchor(real, undefined, { crossDevices: true });
      this.anchors.set(real, a);
    }
    return a;
  }

  close(): void {
    for (const a of this.anchors.values()) a.close();
  }
}

/** compileall.compile_file's dfile: -d joined with the path below the argument, or -s / -p applied. */
function dfileOf(o: CompileOptions, fullname: string, rel: string): string | null {
  let dfile: string | null = o.ddir === undefined ? null : path.join(o.ddir, rel);
  if (o.stripdir !== undefined) {
    const parts = fullname.split(path.sep);
    const strip = o.stripdir.split(path.sep);
    const kept = [...parts];
    for (let k = 0; k < Math.min(strip.length, parts.length); k++) {
      // Why: compileall removes the first equal component, not the one at this position (list.remove).
      if (strip[k] === parts[k]) kept.splice(kept.indexOf(strip[k]!), 1);
    }
    dfile = path.join(...kept);
  }
  if (o.prependdir !== undefined) dfile = path.join(o.prependdir, dfile ?? fullname);
  return dfile;
}

/** The sources compileall would compile, in its order (names sorted, __pycache__ and symlinked dirs skipped). */
function collect(o: CompileOptions, report: CompileReport, roots: Roots): Job[] {
  const c = new Collector(o, report);
  for (const p of o.paths) {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st === undefined) throw new PyfloppyError('ENOTFOUND', `no such file or directory: ${p}`);
    if (st.isDirectory()) c.walk(p, roots.of(p), '', o.maxlevels ?? Number.MAX_SAFE_INTEGER);
    else if (p.endsWith('.py')) c.source(p, roots.of(path.dirname(p)), path.basename(p), path.basename(p));
  }
  return c.jobs;
}

/** collect()'s walk: the jobs found, and the roots a symlinked source must resolve into. */
class Collector {
  readonly jobs: Job[] = [];
  private readonly realRoots: string[];
  private readonly limit: string | undefined;

  constructor(
    private readonly o: CompileOptions,
    private readonly report: CompileReport,
  ) {
    this.realRoots = o.paths.map((p) => fs.realpathSync(p));
    this.limit = o.limitSymlinks === undefined ? undefined : fs.realpathSync(o.limitSymlinks);
  }

  source(full: string, anchor: Anchor, rel: string, dfileRel: string): void {
    if (this.o.exclude?.test(full)) return;
    const st = fs.lstatSync(full, { throwIfNoEntry: false });
    if (st === undefined) return;
    if (st.isSymbolicLink()) {
      if (!this.symlinkInside(full)) return;
    } else if (!st.isFile()) return;
    this.jobs.push({ path: full, dfile: dfileOf(this.o, full, dfileRel), anchor, rel });
  }

  walk(dir: string, anchor: Anchor, rel: string, levels: number): void {
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch (e) {
      this.report.skipped.push({ path: dir, reason: `cannot list: ${(e as Error).message}` });
      return;
    }
    removeLeftovers(anchor, rel, names, this.report);
    for (const name of names) {
      const full = path.join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      if (name === '__pycache__') {
        if (fs.lstatSync(full, { throwIfNoEntry: false })?.isDirectory() === true)
          cleanCacheDir(anchor, r, this.report);
        continue;
      }
      if (name.endsWith('.py')) {
        this.source(full, anchor, r, r);
        continue;
      }
      if (levels > 0) {
        const st = fs.lstatSync(full, { throwIfNoEntry: false });
        if (st?.isDirectory()) this.walk(full, anchor, r, levels - 1);
      }
    }
  }

  /** A symlinked source to compile: it resolves to a regular file inside the roots (and -e's DIR). */
  private symlinkInside(full: string): boolean {
    let target: string;
    try {
      target = fs.realpathSync(full);
    } catch {
      return false;
    }
    // Safety: a symlinked source is read only when it resolves inside the given roots (and -e's DIR).
    const inside = (d: string) => target === d || target.startsWith(`${d}/`);
    if (!this.realRoots.some(inside) || (this.limit !== undefined && !inside(this.limit))) {
      this.report.skipped.push({
        path: full,
        reason: `symlink to ${target}, outside ${this.limit ?? 'the given paths'}`,
      });
      return false;
    }
    return fs.statSync(target).isFile();
  }
}

/** The pyfloppy temporaries among `names` in directory `rel` that a run now over left: removed. */
function removeLeftovers(
  anchor: Anchor,
  rel: string,
  names: readonly string[],
  report: CompileReport,
  inCache = false,
): void {
  for (const name of names) {
    if (!ANY_TEMP_NAME.test(name)) continue;
    const r = rel === '' ? name : `${rel}/${name}`;
    try {
      if (removeStaleTemp(anchor.at(r), realCalls, inCache)) report.leftoversRemoved.push(anchor.plain(r));
    } catch (e) {
      // Why: a leftover that cannot be removed (a swapped directory, a read-only one) must not stop the run.
      report.skipped.push({
        path: anchor.plain(r),
        reason: `leftover temporary not removed: ${(e as Error).message}`,
      });
    }
  }
}

/** A __pycache__ directory, not walked for sources, is where a killed compile leaves its partial caches. */
function cleanCacheDir(anchor: Anchor, rel: string, report: CompileReport): void {
  let names: string[];
  try {
    names = fs.readdirSync(anchor.dir(rel));
  } catch {
    return; // Why: a __pycache__ that cannot be listed, or was swapped, holds nothing this run will write.
  }
  removeLeftovers(anchor, rel, names, report, true);
}

/** A source's cache name, relative to its anchor ('/'-separated, as the anchor takes it). */
function cacheRel(srcRel: string, tag: string, level: number): string {
  return `${cacheDirRel(srcRel)}/${path.posix.basename(srcRel, '.py')}.${tag}${level === 0 ? '' : `.opt-${level}`}.pyc`;
}

function cacheDirRel(srcRel: string): string {
  const dir = path.posix.dirname(srcRel);
  return dir === '.' ? '__pycache__' : `${dir}/__pycache__`;
}

const BATCH = 16;
/** Sources per worker below which another worker costs more than it saves (see runWorkers). */
const SOURCES_PER_WORKER = 48;

/**
 * The compileall command line whose process the workers reproduce (see python/compile_worker.py): the
 * levels and --hardlink-dupes (3.9+), -f, the invalidation mode (3.7+).
 */
function compileallFlags(o: CompileOptions, minor: number, levels: number[], dedup: boolean): string[] {
  const flags: string[] = [];
  if (o.force === true) flags.push('-f');
  if (minor >= 9) {
    for (const l of levels) flags.push('-o', String(l));
    if (dedup && levels.length > 1) flags.push('--hardlink-dupes');
  }
  if (minor >= 7 && o.invalidationMode !== undefined) flags.push('--invalidation-mode', o.invalidationMode);
  return flags;
}

function checkInterpreter(info: WorkerHello): string {
  const [major, minor] = info.version.split('.').map(Number) as [number, number];
  if (major < 3 || (major === 3 && minor < 6) || info.cacheTag === null) {
    throw new PyfloppyError(
      'EINTERP',
      `${info.executable} is Python ${info.version}: compile needs CPython 3.6 or newer`,
      {
        hint: "Python 2 and 3.0-3.5 are not supported; use that interpreter's own compileall",
      },
    );
  }
  return info.cacheTag;
}

/**
 * The interpreter as its worker introduced itself. A worker that stopped first (no such program, not a
 * Python, Python 2) is explained by describing the interpreter, which says what it is; else its own error.
 */
async function interpreterOf(worker: CompileWorker): Promise<{ hello: WorkerHello; tag: string }> {
  let hello: WorkerHello;
  try {
    hello = await worker.hello;
  } catch (e) {
    checkInterpreter(describeInterpreter(worker.exe));
    throw e;
  }
  return { hello, tag: checkInterpreter(hello) };
}

export async function compile(o: CompileOptions): Promise<CompileReport> {
  for (const p of o.paths) requireReadableRoot(p);
  const exe = o.python ?? 'python3';
  // Why: a worker the caller started for this interpreter (the CLI does, before it loads its modules) has
  // its start-up behind it; it is compile's from here on.
  const first = o.worker?.exe === exe && o.worker.take() ? o.worker : startCompileWorker(exe);
  try {
    const { hello, tag } = await interpreterOf(first);
    return await compileWith(o, hello, tag, first);
  } catch (e) {
    first.kill();
    throw e;
  } finally {
    first.close();
  }
}

async function compileWith(
  o: CompileOptions,
  info: WorkerHello,
  tag: string,
  first: CompileWorker,
): Promise<CompileReport> {
  const levels = [...new Set(o.levels ?? [0])].sort((a, b) => a - b);
  for (const l of levels) {
    if (![0, 1, 2].includes(l)) throw new PyfloppyError('EUSAGE', `optimization level ${l}: 0, 1 or 2`);
  }
  const minor = Number(info.version.split('.')[1]);
  if (minor < 7 && o.invalidationMode !== undefined && o.invalidationMode !== 'timestamp') {
    throw new PyfloppyError('EUSAGE', `Python ${info.version} has no hash-based caches (PEP 552 is 3.7)`);
  }
  if (o.ddir !== undefined && (o.stripdir !== undefined || o.prependdir !== undefined)) {
    throw new PyfloppyError('EUSAGE', '-d cannot be used in combination with -s or -p (as compileall)');
  }
  const report: CompileReport = {
    schema: 'pyfloppy.compile/1',
    interpreter: { executable: info.executable, version: info.version, cacheTag: tag },
    levels,
    sources: 0,
    compiled: 0,
    upToDate: 0,
    written: 0,
    linked: 0,
    skipped: [],
    errors: [],
    leftoversRemoved: [],
  };
  const roots = new Roots();
  const locks: TreeLock[] = [];
  try {
    lockRoots(o, roots, locks);
    const jobs = collect(o, report, roots);
    report.sources = jobs.length;
    const dedup = o.dedup ?? levels.length > 1;
    const flags = compileallFlags(o, minor, levels, dedup);
    let done = 0;
    await runWorkers(o, [first, info.executable], flags, jobs, levels, (job, frame, data) => {
      place({ report, tag, levels, dedup, hook: o.beforePlace }, job, frame, data);
      o.onProgress?.(++done, jobs.length);
    });
  } catch (e) {
    throw asRunError(e, 'compile');
  } finally {
    for (const l of locks) l.release();
    roots.close();
  }
  return report;
}

/** One changing run per tree: each directory argument (a file argument's parent) locked before any change. */
function lockRoots(o: CompileOptions, roots: Roots, locks: TreeLock[]): void {
  const locked = new Set<string>();
  for (const p of o.paths) {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st === undefined) throw new PyfloppyError('ENOTFOUND', `no such file or directory: ${p}`);
    const anchor = roots.of(st.isDirectory() ? p : path.dirname(p));
    if (locked.has(anchor.root)) continue;
    locked.add(anchor.root);
    locks.push(lockTree(anchor.root, 'compile', anchor.dir('.')));
  }
}

interface PlaceContext {
  report: CompileReport;
  tag: string;
  levels: number[];
  dedup: boolean;
  hook: CompileOptions['beforePlace'];
}

/** Place one source's caches through its anchor: each distinct payload written once, identical levels linked. */
function place(ctx: PlaceContext, job: Job, frame: Frame, data: Buffer[]): void {
  const { report } = ctx;
  if (frame.status === 'fresh') {
    report.upToDate++;
    return;
  }
  if (frame.status === 'error') {
    report.errors.push({ path: job.path, message: frame.error ?? 'failed' });
    return;
  }
  try {
    ctx.hook?.(job.path);
    const a = job.anchor;
    // py_compile's mode: the source's permission bits, writable by the owner, under the umask.
    const mode = (fs.statSync(a.at(job.rel)).mode | 0o200) & 0o666;
    ensureCacheDir(a, cacheDirRel(job.rel));
    const placed = new Map<number, { rel: string; ino: number }>();
    frame.levels!.forEach((p, k) => {
      const dest = cacheRel(job.rel, ctx.tag, ctx.levels[k]!);
      const first = placed.get(p);
      if (first !== undefined && ctx.dedup) {
        linkCache(a, first.rel, first.ino, dest);
        report.linked++;
      } else {
        const ino = writeCache(a, dest, data[p]!, mode);
        report.written++;
        if (first === undefined) placed.set(p, { rel: dest, ino });
      }
    });
    report.compiled++;
  } catch (e) {
    // A refused or failed write (a directory swapped for a symlink: refused), or a source gone since it was
    // compiled: reported for this source. Anything else is a bug and stops the run.
    if (!(e instanceof CacheWriteError) && !(e instanceof AnchorError) && errnoCode(e) === undefined) throw e;
    const message = e instanceof AnchorError ? `refused: ${e.message}` : (e as Error).message;
    report.errors.push({ path: job.path, message });
  }
}

/** Long-lived interpreter workers fed batches of sources; `onResult` runs for each source in order. */
async function runWorkers(
  o: CompileOptions,
  [first, exe]: [CompileWorker, string],
  flags: string[],
  jobs: Job[],
  levels: number[],
  onResult: (job: Job, frame: Frame, data: Buffer[]) => void,
): Promise<void> {
  const n = o.jobs === 0 ? os.availableParallelism() : Math.max(1, o.jobs ?? 1);
  // Why: a worker costs an interpreter start-up and compileall's own (argparse): one more pays off only
  // with SOURCES_PER_WORKER sources for it (measured on requests, bench/README.md).
  const wanted = Math.min(n, Math.max(1, Math.floor(jobs.length / SOURCES_PER_WORKER)));
  const workers = [first, ...Array.from({ length: wanted - 1 }, () => startCompileWorker(exe))];
  let next = 0;
  const mode = o.invalidationMode ?? null;
  const request = { levels, mode, force: o.force === true, flags };
  try {
    await Promise.all(
      workers.map(async (w) => {
        // Two batches in flight per worker: the next one is queued while this one is answered, so the
        // worker never waits for a round trip.
        let previous: Promise<void> = Promise.resolve();
        while (next < jobs.length) {
          const batch = jobs.slice(next, next + BATCH);
          next += BATCH;
          const current = w.run(batch, request, onResult);
          // Why: a worker that stops fails both; the first failure is the one awaited and thrown.
          current.catch(() => undefined);
          await previous;
          previous = current;
        }
        await previous;
      }),
    );
  } finally {
    for (const w of workers) w.close();
  }
}
