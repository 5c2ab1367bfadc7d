/**
 * `compile`: what `python -m compileall -o ... --hardlink-dupes` does, with each source read once, each
 * distinct cache written once and identical levels linked. The target interpreter compiles (bytecode is
 * version-specific) in long-lived workers running python/compile_worker.py; this side walks the tree as
 * compileall walks it and places the caches through src/fsops/cache.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errnoCode, PyfloppyError } from '../errors.js';
import { CacheWriteError, ensureCacheDir, linkCache, writeCache } from '../fsops/cache.js';
import { describeInterpreter, type InterpreterInfo, workerScript } from '../python/interpreter.js';

export type InvalidationMode = 'timestamp' | 'checked-hash' | 'unchecked-hash';

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
}

interface Job {
  /** The path as compileall names it (walked from the argument as given). */
  path: string;
  dfile: string | null;
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
function collect(o: CompileOptions, skipped: CompileReport['skipped']): Job[] {
  const jobs: Job[] = [];
  const roots = o.paths.map((p) => fs.realpathSync(p));
  const limit = o.limitSymlinks === undefined ? undefined : fs.realpathSync(o.limitSymlinks);
  const source = (full: string, rel: string): void => {
    if (o.exclude?.test(full)) return;
    const st = fs.lstatSync(full, { throwIfNoEntry: false });
    if (st === undefined) return;
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = fs.realpathSync(full);
      } catch {
        return;
      }
      // Safety: a symlinked source is read only when it resolves inside the given roots (and -e's DIR).
      const inside = (d: string) => target === d || target.startsWith(`${d}/`);
      if (!roots.some(inside) || (limit !== undefined && !inside(limit))) {
        skipped.push({ path: full, reason: `symlink to ${target}, outside ${limit ?? 'the given paths'}` });
        return;
      }
      if (!fs.statSync(target).isFile()) return;
    } else if (!st.isFile()) return;
    jobs.push({ path: full, dfile: dfileOf(o, full, rel) });
  };
  const walk = (dir: string, rel: string, levels: number): void => {
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch (e) {
      skipped.push({ path: dir, reason: `cannot list: ${(e as Error).message}` });
      return;
    }
    for (const name of names) {
      if (name === '__pycache__') continue;
      const full = path.join(dir, name);
      const r = rel === '' ? name : path.join(rel, name);
      if (name.endsWith('.py')) {
        source(full, r);
        continue;
      }
      if (levels > 0) {
        const st = fs.lstatSync(full, { throwIfNoEntry: false });
        if (st?.isDirectory()) walk(full, r, levels - 1);
      }
    }
  };
  for (const p of o.paths) {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st === undefined) throw new PyfloppyError('ENOTFOUND', `no such file or directory: ${p}`);
    if (st.isDirectory()) walk(p, '', o.maxlevels ?? Number.MAX_SAFE_INTEGER);
    else if (p.endsWith('.py')) source(p, path.basename(p));
  }
  return jobs;
}

function cachePath(src: string, tag: string, level: number): string {
  const dir = path.dirname(src);
  const stem = path.basename(src, '.py');
  return path.join(dir, '__pycache__', `${stem}.${tag}${level === 0 ? '' : `.opt-${level}`}.pyc`);
}

interface Frame {
  status: 'compiled' | 'fresh' | 'error';
  error?: string;
  payloads: number[];
  levels?: number[];
}

/** One long-lived worker: requests in, frames (header + payloads) out, parsed from its stdout. */
class Worker {
  private readonly proc: ChildProcess;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: Array<(f: { frame: Frame; data: Buffer[] }) => void> = [];
  private stderr = '';
  private readonly exited: Promise<never>;

  constructor(exe: string) {
    // -E -s: no environment or user site can change the compiler; -B: the worker's own imports write nothing.
    this.proc = spawn(exe, ['-E', '-s', '-B', workerScript('compile_worker.py')], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: process.env,
    });
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.drain();
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise<never>((_, reject) => {
      this.proc.once('exit', (code) =>
        reject(
          new PyfloppyError('EINTERP', `the compile worker stopped (exit ${code}): ${this.stderr.trim()}`),
        ),
      );
    });
    // Why: the worker exits when closed after its last batch; that rejection is expected, not an error.
    this.exited.catch(() => undefined);
  }

  private drain(): void {
    for (;;) {
      if (this.buf.length < 4 || this.waiting.length === 0) return;
      const n = this.buf.readUInt32LE(0);
      if (this.buf.length < 4 + n) return;
      const frame = JSON.parse(this.buf.subarray(4, 4 + n).toString('utf8')) as Frame;
      const total = frame.payloads.reduce((s, x) => s + x, 0);
      if (this.buf.length < 4 + n + total) return;
      const data: Buffer[] = [];
      let at = 4 + n;
      for (const size of frame.payloads) {
        data.push(this.buf.subarray(at, at + size));
        at += size;
      }
      this.buf = this.buf.subarray(at);
      this.waiting.shift()!({ frame, data });
    }
  }

  async run(
    jobs: Job[],
    levels: number[],
    mode: InvalidationMode | null,
    force: boolean,
    onResult: (job: Job, frame: Frame, data: Buffer[]) => void,
  ): Promise<void> {
    const results = jobs.map(
      () =>
        new Promise<{ frame: Frame; data: Buffer[] }>((resolve) => {
          this.waiting.push(resolve);
        }),
    );
    const sources = jobs.map((j) => [Buffer.from(j.path).toString('base64'), j.dfile]);
    this.proc.stdin!.write(`${JSON.stringify({ sources, levels, mode, force })}\n`);
    for (let k = 0; k < jobs.length; k++) {
      const r = await Promise.race([results[k]!, this.exited]);
      onResult(jobs[k]!, r.frame, r.data);
    }
  }

  close(): void {
    this.proc.stdin!.end();
  }
}

const BATCH = 16;

function checkInterpreter(info: InterpreterInfo): string {
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

export async function compile(o: CompileOptions): Promise<CompileReport> {
  const info = describeInterpreter(o.python ?? 'python3');
  const tag = checkInterpreter(info);
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
  const dedup = o.dedup ?? levels.length > 1;
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
  };
  const jobs = collect(o, report.skipped);
  report.sources = jobs.length;

  const place = (job: Job, frame: Frame, data: Buffer[]): void => {
    if (frame.status === 'fresh') {
      report.upToDate++;
      return;
    }
    if (frame.status === 'error') {
      report.errors.push({ path: job.path, message: frame.error ?? 'failed' });
      return;
    }
    try {
      // py_compile's mode: the source's permission bits, writable by the owner, under the umask.
      const mode = (fs.statSync(job.path).mode | 0o200) & 0o666;
      ensureCacheDir(path.join(path.dirname(job.path), '__pycache__'));
      const placed = new Map<number, { file: string; ino: number }>();
      frame.levels!.forEach((p, k) => {
        const dest = cachePath(job.path, tag, levels[k]!);
        const first = placed.get(p);
        if (first !== undefined && dedup) {
          linkCache(first.file, first.ino, dest);
          report.linked++;
        } else {
          const ino = writeCache(dest, data[p]!, mode);
          report.written++;
          if (first === undefined) placed.set(p, { file: dest, ino });
        }
      });
      report.compiled++;
    } catch (e) {
      // A refused or failed write, or a source gone since it was compiled: reported for this source. Anything
      // else is a bug and stops the run.
      if (!(e instanceof CacheWriteError) && errnoCode(e) === undefined) throw e;
      report.errors.push({ path: job.path, message: (e as Error).message });
    }
  };

  const n = o.jobs === 0 ? os.availableParallelism() : Math.max(1, o.jobs ?? 1);
  const workers = Array.from(
    { length: Math.min(n, Math.max(1, Math.ceil(jobs.length / BATCH))) },
    () => new Worker(info.executable),
  );
  let next = 0;
  const mode = o.invalidationMode ?? null;
  try {
    await Promise.all(
      workers.map(async (w) => {
        while (next < jobs.length) {
          const batch = jobs.slice(next, next + BATCH);
          next += BATCH;
          await w.run(batch, levels, mode, o.force === true, place);
        }
      }),
    );
  } finally {
    for (const w of workers) w.close();
  }
  return report;
}
