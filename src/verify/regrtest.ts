/**
 * `verify --regrtest`: the interpreter's own regression tests (`python -m test`, CPython's regrtest) run on
 * the tree at one optimization level, as the installation runs them (PYTHONHOME in stdlib mode), and the
 * tests that fail, each with its first failing case and error line.
 *
 * How it runs: `python -B -s [-O|-OO] -m test -jN --timeout T --junit-xml X --tempdir D TESTS` in an empty
 * scratch directory, environment PATH, LANG, PYTHONHOME and PYTHONDONTWRITEBYTECODE=1 only. -B: verify never
 * lets Python write into the tree (the import phase counts the writes a layout causes). Tests that start a
 * child interpreter with -I or -E (test.support.script_helper does when the interpreter works without its
 * environment) run that child on the interpreter's own installation, not on the tree: the same in the
 * baseline and after. With testsFrom, another tree's `test` package is run on this tree's library. Each test file's outcome is read from regrtest's own summary ("N tests failed:",
 * "N tests skipped:") and progress lines; the first failing case from its JUnit XML report.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RegrtestFailure, RegrtestLevel, RegrtestOptions } from './types.js';

/** What layouts touch: imports, caches, source lines, zip imports, site, resources, tracebacks. */
export const DEFAULT_REGRTESTS = [
  'test_importlib',
  'test_import',
  'test_traceback',
  'test_linecache',
  'test_inspect',
  'test_zipimport',
  'test_compileall',
  'test_py_compile',
  'test_site',
  'test_runpy',
  'test_pkgutil',
  'test_warnings',
  'test_doctest',
  'test_pydoc',
  'test_argparse',
] as const;

/**
 * Cases that cannot pass under PYTHONDONTWRITEBYTECODE, which verify sets so that no child interpreter writes
 * into the tree: they check that an import rewrites a cache. Skipped (regrtest --ignore) in every run alike.
 */
export const IGNORED_UNDER_NO_WRITES = ['*.HardlinkDedupTests*.test_import'] as const;

const DEFAULT_TIMEOUT_SEC = 600;
const OPT_FLAGS = [[], ['-O'], ['-OO']] as const;
const TEST_NAME = /^test_\w+$/;

export interface RegrtestRun {
  exe: string;
  /** The tree (a stdlib directory: regrtest needs its `test` package, here or in testsFrom). */
  tree: string;
  prefix: string;
  level: number;
  options: RegrtestOptions;
  /** A private empty directory for this run (removed by the caller). */
  scratch: string;
  onTest?: (test: string, done: number, total: number) => void;
}

/** The directory whose `test` package is run (testsFrom when given, else the tree), or null if it has none. */
export function testPackageHome(tree: string, testsFrom: string | undefined): string | null {
  const home = testsFrom ?? tree;
  const dir = path.join(home, 'test');
  return ['__init__.py', '__init__.pyc'].some((f) => fs.existsSync(path.join(dir, f))) ? home : null;
}

/** The requested tests that exist in the test package (test_x.py, test_x.pyc or a package test_x/). */
export function selectTests(home: string, wanted: readonly string[]): string[] {
  const dir = path.join(home, 'test');
  return wanted.filter((t) => ['.py', '.pyc', ''].some((ext) => fs.existsSync(path.join(dir, t + ext))));
}

function regrtestArgs(r: RegrtestRun, tests: string[], xml: string): string[] {
  const jobs = r.options.jobs ?? os.availableParallelism();
  const timeout = r.options.timeoutSec ?? DEFAULT_TIMEOUT_SEC;
  return [
    ...['-B', '-s', ...OPT_FLAGS[r.level]!, '-m', 'test'],
    ...[`-j${Math.max(1, jobs)}`, '--timeout', String(timeout), '--junit-xml', xml],
    ...IGNORED_UNDER_NO_WRITES.flatMap((p) => ['--ignore', p]),
    ...['--tempdir', path.join(r.scratch, 'tmp'), ...tests],
  ];
}

function regrtestEnv(r: RegrtestRun, testsHome: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    PYTHONHOME: r.prefix,
    PYTHONDONTWRITEBYTECODE: '1',
  };
  if (r.options.testsFrom !== undefined) {
    // Another tree's test package (this one has none after strip-tests), through a directory holding only it
    // on PYTHONPATH. Tests that look at sys.path itself (test_site's ._pth cases) see that entry: a baseline
    // compared with such a run is run the same way (--tests-from on both) to compare like with like.
    const shim = path.join(r.scratch, 'tests-from');
    fs.mkdirSync(shim);
    fs.symlinkSync(path.join(testsHome, 'test'), path.join(shim, 'test'));
    env.PYTHONPATH = shim;
  }
  return env;
}

/** Runs regrtest; resolves with its standard output (and error) when it ends or is killed at the deadline. */
function runProcess(r: RegrtestRun, args: string[], env: NodeJS.ProcessEnv, total: number): Promise<string> {
  const deadlineMs = ((r.options.timeoutSec ?? DEFAULT_TIMEOUT_SEC) * total + 60) * 1000;
  return new Promise((resolve) => {
    const proc = spawn(r.exe, args, {
      cwd: r.scratch,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let done = 0;
    const onData = (d: string): void => {
      out += d;
      for (const m of d.matchAll(/\] (test_\w+) /g)) r.onTest?.(m[1]!, ++done, total);
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
    const timer = setTimeout(() => {
      try {
        if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
      } catch {
        // Why: already gone.
      }
    }, deadlineMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      resolve(`${out}\n${e.message}`);
    });
    proc.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** The names listed under regrtest's summary headers ("2 tests failed:" then indented names). */
export function summarySections(out: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  const lines = out.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const h = /^\d+ tests? (.+):$/.exec(lines[i]!.trim());
    if (h === null) continue;
    const names: string[] = [];
    for (let j = i + 1; j < lines.length && /^\s+\S/.test(lines[j]!); j++)
      names.push(...lines[j]!.trim().split(/\s+/));
    sections.set(h[1]!, [...(sections.get(h[1]!) ?? []), ...names.filter((n) => TEST_NAME.test(n))]);
  }
  return sections;
}

function decodeXml(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The first failing case of each test file in regrtest's JUnit XML: "Class.test_case: Type: message". */
export function firstFailures(xml: string): Map<string, string> {
  const first = new Map<string, string>();
  const re = /<testcase name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const body = m[2];
    if (body === undefined) continue;
    const f = /<(failure|error) type="([^"]*)" message="([^"]*)"/.exec(body);
    if (f === null) continue;
    const name = decodeXml(m[1]!);
    const test = /^test\.(test_\w+)/.exec(name)?.[1];
    if (test === undefined || first.has(test)) continue;
    const message = decodeXml(f[3]!).split('\n')[0]!.trim();
    first.set(test, `${name.slice(`test.${test}.`.length)}: ${message}`);
  }
  return first;
}

/** How regrtest ended a test file that failed, from its progress line ("test_x failed (...)"). */
function statusOf(out: string, test: string): RegrtestFailure['status'] {
  const line = out
    .split('\n')
    .find((l) => new RegExp(`\\] ${test} (failed|crashed|timed out|.*TIMEOUT)`).test(l));
  if (line === undefined) return 'failed';
  if (/timed out|TIMEOUT/i.test(line)) return 'timeout';
  if (/crashed|uncaught exception|Exit code/.test(line)) return 'crashed';
  return 'failed';
}

/** The error a test file died of at load, from "test test_x crashed -- Traceback ..." in the output. */
function crashLine(out: string, test: string): string {
  const at = out.indexOf(`test ${test} crashed`);
  if (at === -1) return '';
  const block = out.slice(at).split('\n').slice(1);
  const end = block.findIndex((l) => /^\S.*\[\s*\d+\/\d+/.test(l) || l.trim() === '');
  const lines = (end === -1 ? block : block.slice(0, end)).filter((l) => /^\w/.test(l));
  return lines.pop()?.trim() ?? '';
}

export function parseRegrtest(
  out: string,
  xml: string,
  tests: string[],
): Pick<RegrtestLevel, 'failed' | 'skipped'> {
  const sections = summarySections(out);
  const listed = (pred: (header: string) => boolean): Set<string> =>
    new Set([...sections].filter(([h]) => pred(h)).flatMap(([, names]) => names));
  const failed = listed((h) => /^failed|crashed|timed out/.test(h) && !/again/.test(h));
  const skipped = listed((h) => h.startsWith('skipped') || h === 'run no tests');
  const reported = new Set([...out.matchAll(/\] (test_\w+)/g)].map((m) => m[1]!));
  const first = firstFailures(xml);
  const failures: RegrtestFailure[] = [];
  for (const t of tests) {
    if (failed.has(t)) {
      failures.push({ test: t, status: statusOf(out, t), first: first.get(t) ?? crashLine(out, t) });
    } else if (!reported.has(t) && !skipped.has(t)) {
      failures.push({
        test: t,
        status: 'not run',
        first: 'regrtest did not run it (not found as a test_*.py, or the runner stopped)',
      });
    }
  }
  return { failed: failures, skipped: tests.filter((t) => skipped.has(t)) };
}

/** Runs the tests at one level; null when there is no test package to run. */
export async function runRegrtest(r: RegrtestRun): Promise<RegrtestLevel | null> {
  const home = testPackageHome(r.tree, r.options.testsFrom);
  if (home === null) return null;
  const tests = selectTests(home, r.options.tests ?? DEFAULT_REGRTESTS);
  const xml = path.join(r.scratch, 'junit.xml');
  fs.mkdirSync(path.join(r.scratch, 'tmp'));
  const started = Date.now();
  const out =
    tests.length === 0
      ? ''
      : await runProcess(r, regrtestArgs(r, tests, xml), regrtestEnv(r, home), tests.length);
  const xmlText = fs.existsSync(xml) ? fs.readFileSync(xml, 'utf8') : '';
  return {
    testsFrom: path.join(home, 'test'),
    tests,
    ...parseRegrtest(out, xmlText, tests),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}
