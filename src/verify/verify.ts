/**
 * `verify`: import every module of a tree, at each optimization level, in fresh interpreters of the tree's
 * Python, and report what failed to import and every attempt to write into the tree. The check that a
 * minimized installation still imports and stays read-only: run once on the original tree (the baseline),
 * once after, and compare with regressions().
 *
 * The interpreter runs python/verify_worker.py, whose audit hook (sys.addaudithook, Python 3.8+) records
 * each write under the tree (open for writing, mkdir, rename, replace, remove, ...) and blocks it with
 * PermissionError: importlib swallows OSError from its cache writes, so imports go on and the tree is left
 * as it was. Nothing of the tree is written; the only file system change is an empty private temporary
 * directory, the interpreters' working directory, removed at the end.
 *
 * How the interpreter sees the tree, as the installation would:
 * - 'stdlib' mode: PATH is named pythonX.Y and holds os.py (or os.pyc), or has a pythonXY.zip beside it,
 *   which is then part of the tree (its modules are found and imported too). The interpreter runs with
 *   PYTHONHOME=PATH/../.. in an environment holding only that, PATH and LANG=C.UTF-8, with -s (no user site)
 *   but not -E/-I (they would ignore PYTHONHOME); the worker checks that sys.prefix is that prefix and PATH
 *   is on sys.path. Its sys.path entries inside PATH (PATH, lib-dynload, site-packages) are the tree. From
 *   3.11 on the interpreter uses its frozen copies of its startup modules (os, codecs, io, site, ...), as an
 *   installation does by default: those modules' files in the tree are then not read, their caches never
 *   written, and their loader has no source to show (they count as imported without source).
 * - 'path' mode (any other tree, site-packages-like): -I (isolated), PATH first on sys.path.
 * In both, the worker code is exec'd by a `-c` bootstrap (no script directory on sys.path), the working
 * directory is the empty temporary one, and the interpreter starts with -B so that its own start writes
 * nothing before the hook exists; the worker then sets sys.dont_write_bytecode back to False and has the
 * modules loaded at start validate their caches again (see the worker's header).
 *
 * Modules: every name.py, name.pyc (legacy sourceless), extension module and regular package (a directory
 * with __init__) under those sys.path entries, recursively, names being identifiers; never `__main__`
 * modules, antigravity, this, __hello__, __phello__, idlelib.idle, nor the excluded prefixes. They are
 * imported sorted by name, one level per sequence of worker processes (levels run in parallel). A module
 * that hangs longer than timeoutMs or kills its interpreter fails ('timeout', 'crashed'), and a new worker
 * goes on with the rest.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errnoCode, PyfloppyError, readUserFile } from '../errors.js';
import { makeScratchDir, removeScratchDir } from '../fsops/write.js';
import { describeInterpreter, workerScript } from '../python/interpreter.js';
import { stdlibRoot } from '../python/stdlib.js';
import { VERSION } from '../version.js';

export const VERIFY_SCHEMA = 'pyfloppy.verify/1';

export interface VerifyOptions {
  /** The tree: a stdlib directory (pythonX.Y with os.py) or a site-packages-like directory. */
  path: string;
  /** The tree's interpreter (CPython 3.8 or newer). */
  python: string;
  /** Optimization levels, each run as `python`, `python -O`, `python -OO` (default 0, 1, 2). */
  levels?: number[];
  /** Dotted-name prefixes never imported (a prefix covers its submodules). */
  exclude?: string[];
  /** Longest time one module's import may take (default 30 s). */
  timeoutMs?: number;
}

export interface ImportFailure {
  module: string;
  /** The exception's type name, or 'timeout' / 'crashed' when the import hung or killed the interpreter. */
  type: string;
  message: string;
}

export interface WriteAttempt {
  /** The module being imported when the write was tried ('' for none). */
  module: string;
  /** The audit event: open, os.mkdir, os.rename, os.replace, os.remove, ... */
  event: string;
  path: string;
}

export interface VerifyLevel {
  level: number;
  /** Modules found (after exclusions). */
  modules: number;
  ok: number;
  /** Modules of the tree imported whose loader gives their source (as tracebacks would show lines). */
  withSource: number;
  failed: ImportFailure[];
  /** Every write under the tree that was tried, in order; each was blocked. */
  writes: WriteAttempt[];
  /** The modules imported without error, sorted: what a later run is compared with. */
  okModules: string[];
  /** Worker processes used (more than one when a module hung or crashed one). */
  workers: number;
}

export type Regression =
  /** A module imported in the baseline that now fails (type: the exception's name, 'timeout' or 'crashed'). */
  | { kind: 'failed'; level: number; module: string; type: string; message: string }
  /** A module imported in the baseline that is no longer found (nor excluded). */
  | { kind: 'missing'; level: number; module: string }
  /** A write attempt at a level where the baseline had none. */
  | { kind: 'write'; level: number; module: string; event: string; path: string };

export interface VerifyReport {
  schema: typeof VERIFY_SCHEMA;
  generator: { name: 'pyfloppy'; version: string };
  /** The tree, absolute. */
  path: string;
  python: { executable: string; version: string };
  mode: 'stdlib' | 'path';
  /** PYTHONHOME in stdlib mode; null in path mode. */
  prefix: string | null;
  /** The sys.path entries in the tree whose modules were imported. */
  entries: string[];
  /** Modules found but not imported (the built-in exclusions and the excluded prefixes). */
  excluded: string[];
  timeoutMs: number;
  levels: VerifyLevel[];
  /** Only in the command's output with --baseline: the file and the regressions against it. */
  baseline?: { file: string; regressions: Regression[] };
}

const DEFAULT_TIMEOUT_MS = 30_000;
const IDENTIFIER = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;
const OPT_FLAGS = [[], ['-O'], ['-OO']] as const;
/** Runs verify_worker.py as __main__-less code: sys.argv[0] becomes the worker's path, then its arguments. */
const BOOTSTRAP =
  'import sys;sys.argv=sys.argv[1:];p=sys.argv[0];exec(compile(open(p,"rb").read(),p,"exec"),{"__name__":"__pyfloppy_verify__"})';
const STDERR_TAIL = 4000;

/** Everything one worker needs to start, the same for every level. */
interface Setup {
  exe: string;
  tree: string;
  mode: 'stdlib' | 'path';
  prefix: string | null;
  cwd: string;
  exclude: string[];
  timeoutMs: number;
}

type WorkerEvent =
  | { ev: 'ready'; version: string; optimize: number; prefix: string; entries: string[] }
  | { ev: 'fatal'; message: string }
  | { ev: 'found'; modules: string[]; excluded: string[] }
  | { ev: 'start'; module: string }
  | { ev: 'write'; module: string; event: string; path: string }
  | { ev: 'done'; module: string; ok: true; source: boolean }
  | { ev: 'done'; module: string; ok: false; type: string; message: string }
  | { ev: 'end' };

interface WorkerRun {
  ready: Extract<WorkerEvent, { ev: 'ready' }> | undefined;
  fatal: string | undefined;
  found: Extract<WorkerEvent, { ev: 'found' }> | undefined;
  done: Array<Extract<WorkerEvent, { ev: 'done' }>>;
  writes: WriteAttempt[];
  /** The module started and not done when the worker stopped. */
  current: string | null;
  ended: boolean;
  timedOut: boolean;
  /** How the process ended, for people. */
  exit: string;
  stderr: string;
}

/** One worker process: imports `modules` (or those it discovers, when null) until done, dead or timed out. */
function runWorker(s: Setup, level: number, modules: string[] | null): Promise<WorkerRun> {
  const args = [
    '-B',
    ...(s.mode === 'stdlib' ? ['-s'] : ['-I']),
    ...OPT_FLAGS[level]!,
    '-c',
    BOOTSTRAP,
    workerScript('verify_worker.py'),
    s.tree,
    s.mode,
    ...(s.prefix === null ? [] : [s.prefix]),
  ];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };
  if (s.prefix !== null) env.PYTHONHOME = s.prefix;
  const request = [
    ...(modules === null ? ['discover'] : modules.map((m) => `module ${m}`)),
    ...s.exclude.map((e) => `exclude ${e}`),
  ].join('\n');

  const run: WorkerRun = {
    ready: undefined,
    fatal: undefined,
    found: undefined,
    done: [],
    writes: [],
    current: null,
    ended: false,
    timedOut: false,
    exit: '',
    stderr: '',
  };
  return new Promise<WorkerRun>((resolve) => {
    // detached: the worker leads its own process group, so a timeout also ends what its modules started.
    const proc = spawn(s.exe, args, { cwd: s.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const killGroup = (): void => {
      try {
        if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
      } catch {
        // Why: the group is already gone.
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        run.timedOut = true;
        killGroup();
      }, s.timeoutMs);
    };
    arm();
    let buf = '';
    const onLine = (line: string): void => {
      if (line === '') return;
      let e: WorkerEvent;
      try {
        e = JSON.parse(line) as WorkerEvent;
      } catch {
        return;
      }
      if (e.ev !== 'write') arm();
      switch (e.ev) {
        case 'ready':
          run.ready = e;
          break;
        case 'fatal':
          run.fatal = e.message;
          break;
        case 'found':
          run.found = e;
          break;
        case 'start':
          run.current = e.module;
          break;
        case 'write':
          run.writes.push({ module: e.module, event: e.event, path: e.path });
          break;
        case 'done':
          run.done.push(e);
          run.current = null;
          break;
        case 'end':
          run.ended = true;
          clearTimeout(timer);
          break;
      }
    };
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d: string) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl !== -1) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => {
      run.stderr = (run.stderr + d).slice(-STDERR_TAIL);
    });
    // Why: a worker that dies before reading its request makes this write fail with EPIPE; 'exit' tells.
    proc.stdin.on('error', () => undefined);
    proc.stdin.end(`${request}\n`);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve(run);
    };
    proc.on('error', (err) => {
      run.exit = err.message;
      finish();
    });
    proc.on('exit', (code, signal) => {
      run.exit = signal !== null ? `killed by ${signal}` : `exit status ${code}`;
      // Children an imported module left behind go with the worker; the pipes then close.
      killGroup();
      // Why: a grandchild that left the group could hold the pipes open; do not wait for it forever.
      setTimeout(() => {
        proc.stdout.destroy();
        proc.stderr.destroy();
        finish();
      }, 1000).unref();
    });
    proc.on('close', finish);
  });
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .pop() ?? ''
  );
}

async function verifyLevel(
  s: Setup,
  level: number,
  onFirst: (r: WorkerRun, found: Extract<WorkerEvent, { ev: 'found' }>) => void,
): Promise<VerifyLevel> {
  const result: VerifyLevel = {
    level,
    modules: 0,
    ok: 0,
    withSource: 0,
    failed: [],
    writes: [],
    okModules: [],
    workers: 0,
  };
  let pending: string[] | null = null;
  while (pending === null || pending.length > 0) {
    result.workers++;
    const r = await runWorker(s, level, pending);
    if (r.fatal !== undefined || r.ready === undefined) {
      const why = r.fatal ?? (lastLine(r.stderr) || (r.timedOut ? 'no answer' : r.exit));
      throw new PyfloppyError(
        'EINTERP',
        s.mode === 'stdlib'
          ? `the interpreter did not load its library from ${s.tree} (${why})`
          : `the verify worker did not start with ${s.exe} (${why})`,
        {
          hint:
            s.mode === 'stdlib'
              ? `PYTHONHOME=${s.prefix} must make ${s.exe} use ${s.tree}: give the interpreter this library belongs to`
              : 'give the path of a working CPython 3.8 or newer',
        },
      );
    }
    if (r.ready.optimize !== level)
      throw new PyfloppyError('EINTERNAL', `the worker runs at level ${r.ready.optimize}, not ${level}`);
    if (pending === null) {
      if (r.found === undefined) {
        throw new PyfloppyError(
          'EINTERP',
          `the verify worker stopped while looking for modules in ${s.tree} (${lastLine(r.stderr) || r.exit})`,
        );
      }
      onFirst(r, r.found);
      pending = r.found.modules;
      result.modules = pending.length;
    }
    for (const d of r.done) {
      if (d.ok) {
        result.ok++;
        result.okModules.push(d.module);
        if (d.source) result.withSource++;
      } else result.failed.push({ module: d.module, type: d.type, message: d.message });
    }
    result.writes.push(...r.writes);
    let next = r.done.length;
    if (!r.ended) {
      if (r.current === null && r.done.length === 0) {
        throw new PyfloppyError(
          'EINTERP',
          `the verify worker stopped before importing anything (${lastLine(r.stderr) || r.exit})`,
        );
      }
      if (r.current !== null) {
        const why = r.timedOut
          ? `no answer within ${s.timeoutMs / 1000} s`
          : `the interpreter stopped (${r.exit})${lastLine(r.stderr) === '' ? '' : `: ${lastLine(r.stderr)}`}`;
        result.failed.push({ module: r.current, type: r.timedOut ? 'timeout' : 'crashed', message: why });
        next++;
      }
    } else next = pending.length;
    pending = pending.slice(next);
  }
  result.okModules.sort();
  return result;
}

function checkLevels(levels: number[]): number[] {
  if (levels.length === 0 || levels.some((l) => !Number.isInteger(l) || l < 0 || l > 2)) {
    throw new PyfloppyError('EUSAGE', `bad levels ${levels.join(',')}: each must be 0, 1 or 2`);
  }
  return [...new Set(levels)].sort((a, b) => a - b);
}

function checkTree(p: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') throw new PyfloppyError('ENOTFOUND', `no such directory: ${p}`);
    if (code === 'EACCES') throw new PyfloppyError('EACCES', `cannot read ${p}: permission denied`);
    throw new PyfloppyError('ENOTFOUND', `cannot read ${p}: ${(e as Error).message}`);
  }
  if (!st.isDirectory()) throw new PyfloppyError('ENOTDIR', `not a directory: ${p}`);
  return path.resolve(p);
}

/** Import every module of the tree at each level and report failures and write attempts. */
export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  const levels = checkLevels(options.levels ?? [0, 1, 2]);
  const exclude = options.exclude ?? [];
  for (const e of exclude) {
    if (!e.split('.').every((part) => IDENTIFIER.test(part)))
      throw new PyfloppyError('EUSAGE', `bad --exclude ${JSON.stringify(e)}: a dotted module name is needed`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new PyfloppyError('EUSAGE', `bad timeout ${timeoutMs}: must be positive`);
  const tree = checkTree(options.path);
  const info = describeInterpreter(options.python);
  const [major, minor] = info.version.split('.').map(Number) as [number, number];
  if (major < 3 || (major === 3 && minor < 8)) {
    throw new PyfloppyError(
      'EINTERP',
      `${info.executable} is Python ${info.version}: verify needs Python 3.8 or newer (audit hooks)`,
      { hint: 'give the interpreter of the tree, if it is 3.8 or newer' },
    );
  }

  const stdlib = stdlibRoot(tree);
  const isStdlib = stdlib !== null;
  if (stdlib !== null && (stdlib.major !== major || stdlib.minor !== minor)) {
    const v = `${stdlib.major}.${stdlib.minor}`;
    throw new PyfloppyError(
      'EINTERP',
      `${tree} is the library of Python ${v}, the interpreter is ${info.version}`,
      {
        hint: `give the Python ${v} interpreter with --python`,
      },
    );
  }
  const mode = isStdlib ? 'stdlib' : 'path';
  const prefix = isStdlib ? path.resolve(tree, '..', '..') : null;

  // The interpreters' working directory: empty, private, removed at the end (nothing of the tree).
  const cwd = makeScratchDir('pyfloppy-verify-');
  try {
    const setup: Setup = { exe: info.executable, tree, mode, prefix, cwd, exclude, timeoutMs };
    let first: { entries: string[]; excluded: string[] } | undefined;
    const onFirst = (r: WorkerRun, found: Extract<WorkerEvent, { ev: 'found' }>): void => {
      first ??= { entries: r.ready?.entries ?? [], excluded: found.excluded };
    };
    // Levels in parallel, at most one per core: each is its own sequence of processes.
    const results: VerifyLevel[] = new Array<VerifyLevel>(levels.length);
    let nextLevel = 0;
    const lanes = Math.max(1, Math.min(levels.length, os.availableParallelism()));
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (nextLevel < levels.length) {
          const k = nextLevel++;
          results[k] = await verifyLevel(setup, levels[k]!, onFirst);
        }
      }),
    );
    return {
      schema: VERIFY_SCHEMA,
      generator: { name: 'pyfloppy', version: VERSION },
      path: tree,
      python: { executable: info.executable, version: info.version },
      mode,
      prefix,
      entries: first?.entries ?? [],
      excluded: first?.excluded ?? [],
      timeoutMs,
      levels: results,
    };
  } finally {
    removeScratchDir(cwd);
  }
}

/**
 * What got worse from `baseline` to `after`, level by level (levels only one of them has are not compared):
 * a module imported in the baseline that now fails ('failed') or is no longer found ('missing', unless now
 * excluded), and every write attempt at a level where the baseline had none ('write'; with writeLevels,
 * only at those levels).
 */
export function regressions(
  baseline: VerifyReport,
  after: VerifyReport,
  options: { writeLevels?: number[] } = {},
): Regression[] {
  const out: Regression[] = [];
  const excludedNow = new Set(after.excluded);
  for (const lv of after.levels) {
    const base = baseline.levels.find((b) => b.level === lv.level);
    if (base === undefined) continue;
    const okNow = new Set(lv.okModules);
    const failedNow = new Map(lv.failed.map((f) => [f.module, f]));
    for (const m of base.okModules) {
      if (okNow.has(m) || excludedNow.has(m)) continue;
      const f = failedNow.get(m);
      out.push(
        f === undefined
          ? { kind: 'missing', level: lv.level, module: m }
          : { kind: 'failed', level: lv.level, module: m, type: f.type, message: f.message },
      );
    }
    const counted = options.writeLevels === undefined || options.writeLevels.includes(lv.level);
    if (counted && base.writes.length === 0) {
      for (const w of lv.writes)
        out.push({ kind: 'write', level: lv.level, module: w.module, event: w.event, path: w.path });
    }
  }
  return out;
}

/** A report saved by `verify --json` / `--output`, read back as a baseline. */
export function readVerifyReport(file: string): VerifyReport {
  const text = readUserFile(file);
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch {
    r = undefined;
  }
  const report = r as Partial<VerifyReport> | undefined;
  if (
    typeof report !== 'object' ||
    report === null ||
    report.schema !== VERIFY_SCHEMA ||
    !Array.isArray(report.levels) ||
    !report.levels.every((l) => Array.isArray(l.okModules) && Array.isArray(l.writes))
  ) {
    throw new PyfloppyError('EUSAGE', `${file} is not a ${VERIFY_SCHEMA} report`, {
      hint: 'save one with `pyfloppy verify PATH --python EXE --output FILE` on the original tree',
    });
  }
  return report as VerifyReport;
}
