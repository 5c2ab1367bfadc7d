/** The data of `verify`: options, the report (schema pyfloppy.verify/1) and what a comparison finds. */

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
  /** Also run the interpreter's own regression tests (`python -m test`); see regrtest.ts. */
  regrtest?: RegrtestOptions;
  /** Called as the work goes on, for a progress line. */
  onProgress?: (p: VerifyProgress) => void;
}

export interface RegrtestOptions {
  /** Test names (test_importlib, ...); default DEFAULT_REGRTESTS. */
  tests?: string[];
  /** Worker processes of `python -m test -jN` (default: the cores). */
  jobs?: number;
  /** Longest one test file may run, in seconds (default 600). */
  timeoutSec?: number;
  /** A stdlib tree whose `test` package is run instead of the tree's own (which strip-tests removed), from
   * PYTHONPATH: run the baseline with the same testsFrom to compare like with like. */
  testsFrom?: string;
}

export interface VerifyProgress {
  phase: 'import' | 'tests' | 'regrtest';
  level: number;
  /** Modules (or tests) done and in all, at this level. */
  done: number;
  total: number;
  current: string;
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
  /**
   * 'import': importlib writing the cache of a module of the tree (a missing or stale cache: what a layout
   * must prevent). 'module': anything else, the module's own writes (CPython's test_lib2to3 imports
   * fixtures from a directory it puts on sys.path): also attempted on an untouched tree.
   */
  by?: 'import' | 'module';
}

/** What users of a module rely on beyond its import, checked on each module of the tree. */
export const CHECKS = ['lines', 'file', 'getsource', 'resources'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface CheckResult {
  /** Modules the check applies to (lines: code with line numbers; getsource: a function or class defined
   * in the module; resources: a package holding data files; file: a __file__). */
  checked: number;
  /** Those where it fails, sorted. */
  failed: string[];
}

export interface TestDiscovery {
  /** A test package (test, idlelib.idle_test, ...): unittest discovers it as `python -m test` does. */
  package: string;
  /** Test cases found. */
  count: number;
  /** Modules unittest could not load, and the first error (or why discovery failed). */
  errors: number;
  error: string | null;
}

export interface VerifyLevel {
  level: number;
  /** Modules found (after exclusions). */
  modules: number;
  ok: number;
  /** Modules of the tree imported whose loader gives their source. */
  withSource: number;
  failed: ImportFailure[];
  /** Every write under the tree that was tried, in order; each was blocked. */
  writes: WriteAttempt[];
  /** The modules imported without error, sorted: what a later run is compared with. */
  okModules: string[];
  /** Worker processes used (more than one when a module hung or crashed one). */
  workers: number;
  /** Per check, on the modules of the tree that imported (absent in reports of pyfloppy before 0.2). */
  checks?: Record<CheckName, CheckResult>;
  tests?: TestDiscovery[];
  regrtest?: RegrtestLevel;
}

export interface RegrtestFailure {
  test: string;
  /** 'failed', 'env changed' is not a failure; 'crashed', 'timeout', or 'not run' (the runner stopped). */
  status: 'failed' | 'crashed' | 'timeout' | 'not run';
  /** The first failing case and its error line, from the test's output. */
  first: string;
}

export interface RegrtestLevel {
  /** Where the test package came from (the tree, or RegrtestOptions.testsFrom). */
  testsFrom: string;
  tests: string[];
  failed: RegrtestFailure[];
  /** Tests regrtest skipped as a whole (a resource or platform missing). */
  skipped: string[];
  seconds: number;
}

export type Regression =
  /** A module imported in the baseline that now fails (type: the exception's name, 'timeout' or 'crashed'). */
  | { kind: 'failed'; level: number; module: string; type: string; message: string }
  /** A module imported in the baseline that is no longer found (nor excluded). */
  | { kind: 'missing'; level: number; module: string }
  /** A write attempt the baseline did not make at this level (compared by event and path in the tree). */
  | { kind: 'write'; level: number; module: string; event: string; path: string }
  /** A check a module passed in the baseline that it fails now. */
  | { kind: 'behaviour'; level: number; module: string; check: CheckName }
  /** A test package with fewer tests discovered, or an error discovering it. */
  | { kind: 'tests'; level: number; package: string; before: number; after: number; error: string | null }
  /** A regression test that passed in the baseline and fails now. */
  | { kind: 'regrtest'; level: number; test: string; status: RegrtestFailure['status']; first: string };

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
