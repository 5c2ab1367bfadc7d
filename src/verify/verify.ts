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
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errnoCode, PyfloppyError } from '../errors.js';
import { makeScratchDir, removeScratchDir } from '../fsops/write.js';
import { describeInterpreter } from '../python/interpreter.js';
import { stdlibRoot } from '../python/stdlib.js';
import { VERSION } from '../version.js';
import { runRegrtest } from './regrtest.js';
import {
  CHECKS,
  type CheckName,
  type CheckResult,
  VERIFY_SCHEMA,
  type VerifyLevel,
  type VerifyOptions,
  type VerifyReport,
} from './types.js';
import { type Done, lastLine, runWorker, type Setup, type WorkerEvent, type WorkerRun } from './worker.js';

export { readVerifyReport, regressions } from './compare.js';
export { DEFAULT_REGRTESTS } from './regrtest.js';
export * from './types.js';

const DEFAULT_TIMEOUT_MS = 30_000;
/** Discovering a test package imports all its modules: CPython's `test` takes seconds, not one import's. */
const TESTS_TIMEOUT_FLOOR_MS = 300_000;
const IDENTIFIER = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;
/** A test package's last name: test, tests, idle_test, test_x, x_tests. */
const TEST_PACKAGE = /^(tests?|\w+_tests?|tests?_\w+)$/;

type Found = Extract<WorkerEvent, { ev: 'found' }>;

interface LevelRun {
  s: Setup;
  level: number;
  onFirst: (r: WorkerRun, found: Found) => void;
  onProgress: VerifyOptions['onProgress'];
}

function emptyLevel(level: number): VerifyLevel {
  const checks = Object.fromEntries(CHECKS.map((c) => [c, { checked: 0, failed: [] }])) as unknown as Record<
    CheckName,
    CheckResult
  >;
  return {
    level,
    modules: 0,
    ok: 0,
    withSource: 0,
    failed: [],
    writes: [],
    okModules: [],
    workers: 0,
    checks,
    tests: [],
  };
}

function workerFailed(s: Setup, r: WorkerRun): PyfloppyError {
  const why = r.fatal ?? (lastLine(r.stderr) || (r.timedOut ? 'no answer' : r.exit));
  return new PyfloppyError(
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

/** One imported module's answers into the level's counts. */
function absorbDone(result: VerifyLevel, d: Done, packages: string[]): void {
  if (!d.ok) {
    result.failed.push({ module: d.module, type: d.type, message: d.message });
    return;
  }
  result.ok++;
  result.okModules.push(d.module);
  if (d.source) result.withSource++;
  if (d.package) packages.push(d.module);
  if (d.checks === null || result.checks === undefined) return;
  for (const c of CHECKS) {
    const v = d.checks[c];
    if (v === null) continue;
    result.checks[c].checked++;
    if (!v) result.checks[c].failed.push(d.module);
  }
}

/** How many of `pending` this worker finished (a module it hung or crashed on counts, as failed). */
function settleWorker(lr: LevelRun, r: WorkerRun, pending: string[], result: VerifyLevel): number {
  if (r.ended) return pending.length;
  if (r.current === null && r.done.length === 0) {
    throw new PyfloppyError(
      'EINTERP',
      `the verify worker stopped before importing anything (${lastLine(r.stderr) || r.exit})`,
    );
  }
  if (r.current === null) return r.done.length;
  const why = r.timedOut
    ? `no answer within ${lr.s.timeoutMs / 1000} s`
    : `the interpreter stopped (${r.exit})${lastLine(r.stderr) === '' ? '' : `: ${lastLine(r.stderr)}`}`;
  result.failed.push({ module: r.current, type: r.timedOut ? 'timeout' : 'crashed', message: why });
  return r.done.length + 1;
}

/** Imports every module at one level, in as many workers as hangs and crashes need; returns the packages. */
async function importPhase(lr: LevelRun, result: VerifyLevel): Promise<string[]> {
  const packages: string[] = [];
  let pending: string[] | null = null;
  let done = 0;
  const onEvent = (e: WorkerEvent): void => {
    if (e.ev === 'start')
      lr.onProgress?.({ phase: 'import', level: lr.level, done, total: result.modules, current: e.module });
    else if (e.ev === 'done') done++;
  };
  while (pending === null || pending.length > 0) {
    result.workers++;
    const r = await runWorker(
      lr.s,
      lr.level,
      pending === null ? { kind: 'discover' } : { kind: 'modules', modules: pending },
      onEvent,
    );
    if (r.fatal !== undefined || r.ready === undefined) throw workerFailed(lr.s, r);
    if (r.ready.optimize !== lr.level)
      throw new PyfloppyError('EINTERNAL', `the worker runs at level ${r.ready.optimize}, not ${lr.level}`);
    if (pending === null) {
      if (r.found === undefined) {
        throw new PyfloppyError(
          'EINTERP',
          `the verify worker stopped while looking for modules in ${lr.s.tree} (${lastLine(r.stderr) || r.exit})`,
        );
      }
      lr.onFirst(r, r.found);
      pending = r.found.modules;
      result.modules = pending.length;
    }
    for (const d of r.done) absorbDone(result, d, packages);
    result.writes.push(...r.writes);
    pending = pending.slice(settleWorker(lr, r, pending, result));
  }
  return packages;
}

/** The test packages to discover: packages named like tests whose parents are not (test, idlelib.idle_test). */
function testRoots(packages: string[]): string[] {
  return packages
    .filter((p) => {
      const parts = p.split('.');
      return TEST_PACKAGE.test(parts.at(-1)!) && !parts.slice(0, -1).some((q) => TEST_PACKAGE.test(q));
    })
    .sort();
}

/** unittest discovery of each test package, in one more (quiet) worker. */
async function testsPhase(lr: LevelRun, result: VerifyLevel, packages: string[]): Promise<void> {
  const roots = testRoots(packages);
  if (roots.length === 0) return;
  lr.onProgress?.({
    phase: 'tests',
    level: lr.level,
    done: 0,
    total: roots.length,
    current: roots.join(', '),
  });
  result.workers++;
  const timeout = Math.max(lr.s.timeoutMs, TESTS_TIMEOUT_FLOOR_MS);
  const r = await runWorker(lr.s, lr.level, { kind: 'tests', packages: roots }, undefined, timeout);
  const found = new Map(r.tests.map((t) => [t.package, t]));
  const why = r.timedOut ? `no answer within ${timeout / 1000} s` : `the interpreter stopped (${r.exit})`;
  result.tests = roots.map((p) => found.get(p) ?? { package: p, count: 0, errors: 1, error: why });
}

async function verifyLevel(lr: LevelRun): Promise<VerifyLevel> {
  const result = emptyLevel(lr.level);
  const packages = await importPhase(lr, result);
  await testsPhase(lr, result, packages);
  result.okModules.sort();
  for (const c of CHECKS) result.checks?.[c].failed.sort();
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

function checkExcludes(exclude: string[]): string[] {
  for (const e of exclude) {
    if (!e.split('.').every((part) => IDENTIFIER.test(part)))
      throw new PyfloppyError('EUSAGE', `bad --exclude ${JSON.stringify(e)}: a dotted module name is needed`);
  }
  return exclude;
}

/** The tree's interpreter, 3.8 or newer, and of the same version as a stdlib tree; the tree's mode. */
function treeSetup(
  tree: string,
  python: string,
): Pick<Setup, 'exe' | 'mode' | 'prefix'> & { version: string } {
  const info = describeInterpreter(python);
  const [major, minor] = info.version.split('.').map(Number) as [number, number];
  if (major < 3 || (major === 3 && minor < 8)) {
    throw new PyfloppyError(
      'EINTERP',
      `${info.executable} is Python ${info.version}: verify needs Python 3.8 or newer (audit hooks)`,
      { hint: 'give the interpreter of the tree, if it is 3.8 or newer' },
    );
  }
  const stdlib = stdlibRoot(tree);
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
  return {
    exe: info.executable,
    version: info.version,
    mode: stdlib !== null ? 'stdlib' : 'path',
    prefix: stdlib !== null ? path.resolve(tree, '..', '..') : null,
  };
}

/** Levels in parallel, at most one per core: each is its own sequence of processes. */
async function importLevels(
  setup: Setup,
  levels: number[],
  onProgress: VerifyOptions['onProgress'],
): Promise<{ results: VerifyLevel[]; entries: string[]; excluded: string[] }> {
  let first: { entries: string[]; excluded: string[] } | undefined;
  const onFirst = (r: WorkerRun, found: Found): void => {
    first ??= { entries: r.ready?.entries ?? [], excluded: found.excluded };
  };
  const results: VerifyLevel[] = new Array<VerifyLevel>(levels.length);
  let nextLevel = 0;
  const lanes = Math.max(1, Math.min(levels.length, os.availableParallelism()));
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (nextLevel < levels.length) {
        const k = nextLevel++;
        results[k] = await verifyLevel({ s: setup, level: levels[k]!, onFirst, onProgress });
      }
    }),
  );
  return { results, entries: first?.entries ?? [], excluded: first?.excluded ?? [] };
}

/** regrtest at each level, one level after the other (regrtest itself runs its tests on every core). */
async function regrtestLevels(setup: Setup, results: VerifyLevel[], options: VerifyOptions): Promise<void> {
  const regrtest = options.regrtest;
  if (regrtest === undefined || setup.prefix === null) return;
  for (const result of results) {
    const scratch = fs.mkdtempSync(path.join(setup.cwd, `regrtest-${result.level}-`));
    const onTest = (test: string, done: number, total: number): void =>
      options.onProgress?.({ phase: 'regrtest', level: result.level, done, total, current: test });
    const r = await runRegrtest({
      exe: setup.exe,
      tree: setup.tree,
      prefix: setup.prefix,
      level: result.level,
      options: regrtest,
      scratch,
      onTest,
    });
    if (r === null) {
      throw new PyfloppyError(
        'ENOTFOUND',
        `${setup.tree} has no test package: nothing for --regrtest to run`,
        {
          hint: 'name a tree that has one with --tests-from (the original tree, before strip-tests)',
        },
      );
    }
    result.regrtest = r;
  }
}

/** Import every module of the tree at each level and report failures, write attempts and behaviour. */
export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  const levels = checkLevels(options.levels ?? [0, 1, 2]);
  const exclude = checkExcludes(options.exclude ?? []);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new PyfloppyError('EUSAGE', `bad timeout ${timeoutMs}: must be positive`);
  const tree = checkTree(options.path);
  const { version, ...interp } = treeSetup(tree, options.python);
  if (options.regrtest !== undefined && interp.prefix === null) {
    throw new PyfloppyError('EUSAGE', `--regrtest needs a stdlib tree (a pythonX.Y directory), not ${tree}`);
  }
  // The interpreters' working directory: empty, private, removed at the end (nothing of the tree).
  const cwd = makeScratchDir('pyfloppy-verify-');
  try {
    const setup: Setup = { ...interp, tree, cwd, exclude, timeoutMs };
    const { results, entries, excluded } = await importLevels(setup, levels, options.onProgress);
    await regrtestLevels(setup, results, options);
    return {
      schema: VERIFY_SCHEMA,
      generator: { name: 'pyfloppy', version: VERSION },
      path: tree,
      python: { executable: interp.exe, version },
      mode: interp.mode,
      prefix: interp.prefix,
      entries,
      excluded,
      timeoutMs,
      levels: results,
    };
  } finally {
    removeScratchDir(cwd);
  }
}
