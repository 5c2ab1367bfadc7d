/** `pyfloppy verify`: argument parsing and output; the work is the library's verify(). */
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { markdownTable } from 'markdown-table';
import { writeFileAtomic } from '../fsops/write.js';
import { formatCount } from '../report/format.js';
import {
  CHECKS,
  DEFAULT_REGRTESTS,
  type Regression,
  type RegrtestOptions,
  readVerifyReport,
  regressions,
  verify,
  VERIFY_SCHEMA,
  type VerifyLevel,
  type VerifyProgress,
  type VerifyReport,
} from '../verify/verify.js';
import type { Io, RunState } from './main.js';
import { progressLine } from './progress.js';
import { testPackageHome } from '../verify/regrtest.js';

interface VerifyFlags {
  python: string;
  levels?: number[];
  exclude?: string[];
  timeout?: number;
  baseline?: string;
  json?: boolean;
  output?: string;
  verbose?: boolean;
  regrtest?: string[] | true;
  jobs?: number;
  regrtestTimeout?: number;
  testsFrom?: string;
}

/** Failures and write attempts listed per level in text output unless --verbose. */
const LIST_LIMIT = 10;
const RUN_AS = ['python', 'python -O', 'python -OO'] as const;

export function levelList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^[012]$/.test(p)))
    throw new InvalidArgumentError('levels are 0, 1 and 2, comma-separated (e.g. 0,1,2)');
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

export function collect(v: string, previous: string[] = []): string[] {
  return [...previous, v];
}

/** --regrtest, --jobs and --regrtest-timeout, the same for verify and apply --verify. */
export function withRegrtestFlags(command: Command, what: string): Command {
  return command
    .option('--regrtest [tests]', what, testList)
    .option('-j, --jobs <n>', 'processes for --regrtest (default: the number of cores)', jobCount)
    .option('--regrtest-timeout <seconds>', 'longest one test file may run (default: 600)', seconds);
}

/** `--regrtest` alone: the default selection; `--regrtest test_a,test_b`: those. */
export function testList(v: string): string[] {
  const names = v.split(',').map((t) => t.trim());
  if (names.some((n) => !/^test_\w+$/.test(n)))
    throw new InvalidArgumentError('test names are test_*, comma-separated (e.g. test_import,test_site)');
  return names;
}

export function jobCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of processes, 1 or more');
  return n;
}

export function describeProgress(p: VerifyProgress): string {
  const what = p.phase === 'import' ? 'importing' : p.phase === 'tests' ? 'discovering tests' : 'regrtest';
  return `verify: level ${p.level}: ${what} ${p.done}/${p.total}: ${p.current}`;
}

/** The --regrtest options as the library takes them (testsFrom: given, else the baseline's tree when the
 * tree has no test package of its own). */
export function regrtestOptions(
  flags: Pick<VerifyFlags, 'regrtest' | 'jobs' | 'regrtestTimeout' | 'testsFrom'>,
  tree?: string,
  baseline?: VerifyReport,
): RegrtestOptions | undefined {
  if (flags.regrtest === undefined) return undefined;
  const hasNone = tree !== undefined && testPackageHome(path.resolve(tree), undefined) === null;
  const from = flags.testsFrom ?? (hasNone ? baseline?.path : undefined);
  return {
    ...(flags.regrtest === true ? {} : { tests: flags.regrtest }),
    ...(flags.jobs === undefined ? {} : { jobs: flags.jobs }),
    ...(flags.regrtestTimeout === undefined ? {} : { timeoutSec: flags.regrtestTimeout }),
    ...(from === undefined ? {} : { testsFrom: from }),
  };
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a positive number of seconds');
  return n;
}

export function registerVerify(program: Command, io: Io, state: RunState): void {
  const command = program
    .command('verify')
    .summary('import every module of a tree at each optimization level; report failures and write attempts')
    .description(
      [
        'Import every module of a tree (sources, sourceless .pyc, extension modules, packages) in fresh',
        "interpreters of the tree's Python, once per optimization level, and report the imports that fail and",
        'every attempt to write into the tree (a missing or stale bytecode cache, a module writing next to',
        'itself). An audit hook records each write and blocks it: the tree is never changed.',
        '',
        'A stdlib directory (pythonX.Y holding os.py) is run as its installation runs it: PYTHONHOME is its',
        'prefix (PATH/../..), so the interpreter loads this library, its lib-dynload and site-packages. Any other',
        'directory is put first on sys.path of an isolated (-I) interpreter.',
        '',
        'Run it on the original tree with --output, then on the minimized one with --baseline: modules that',
        'imported before and fail (or are gone) now, and write attempts at a level that had none, are',
        'regressions.',
      ].join('\n'),
    )
    .argument('<path>', 'the tree: a stdlib directory (.../lib/python3.X) or a site-packages-like directory')
    .requiredOption('--python <exe>', "the tree's interpreter (CPython 3.8 or newer)")
    .option(
      '--levels <list>',
      'optimization levels to import at, comma-separated (default: 0,1,2)',
      levelList,
    )
    .option(
      '--exclude <prefix>',
      'never import this module and its submodules (dotted name; repeatable)',
      collect,
    )
    .option('--timeout <seconds>', "longest one module's import may take (default: 30)", seconds)
    .option(
      '--baseline <file>',
      'a previous `verify --json` report of the original tree: report regressions',
    );
  withRegrtestFlags(
    command,
    "also run the interpreter's own regression tests (python -m test) at each level; comma-separated names, default: the selection below",
  )
    .option(
      '--tests-from <dir>',
      "a stdlib tree whose test package --regrtest runs when this tree has none (default: the baseline's tree)",
    )
    .option('--json', `print the report as JSON (schema ${VERIFY_SCHEMA})`)
    .option('-o, --output <file>', 'also save the JSON report to this file (atomically)')
    .option(
      '-v, --verbose',
      `list every failure and write attempt (default: the first ${LIST_LIMIT} per level)`,
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  pyfloppy verify /usr/lib64/python3.12 --python /usr/bin/python3.12',
        '  pyfloppy verify ./root/usr/lib/python3.12 --python /usr/bin/python3.12 --output before.json',
        '  pyfloppy verify ./root/usr/lib/python3.12 --python /usr/bin/python3.12 --baseline before.json',
        '  pyfloppy verify ./venv/lib/python3.12/site-packages --python ./venv/bin/python --levels 0',
        '',
        '  pyfloppy verify ./root/usr/lib/python3.12 --python /usr/bin/python3.12 --levels 0 --regrtest --output before.json',
        '',
        'Beyond each import, per module: the source line a traceback would show (code whose co_filename is',
        'outside the tree shows none), __file__ equal to co_filename (importlib.resources, warnings, inspect),',
        'inspect.getsource of a function, importlib.resources.files() of a package holding data files; per test',
        'package (test, idle_test, ...): the tests unittest discovers. Write attempts are "import" (importlib',
        "writing a module's cache: a layout's doing) or \"module\" (the module's own, also on an untouched tree).",
        '',
        `--regrtest runs, by default: ${DEFAULT_REGRTESTS.join(' ')}`,
        '(those the test package has), with -B, -jN and a per-test timeout; each test that fails is listed with',
        'its first failing case. A tree without a test package (strip-tests) runs the one of --tests-from, put on',
        'PYTHONPATH: run the baseline with the same --tests-from (tests of sys.path itself see the entry).',
        '',
        'Never imported: __main__ modules, antigravity, this, __hello__, __phello__, idlelib.idle.',
        '',
        'Exit status: 0 clean, 1 regressions against --baseline (without one: an import write attempt, a',
        'failing check, or a failing regression test), 2 usage error, bad path or interpreter.',
      ].join('\n'),
    )
    .action(async (target: string, flags: VerifyFlags) => {
      const baseline = flags.baseline === undefined ? undefined : readVerifyReport(flags.baseline);
      const regrtest = regrtestOptions(flags, target, baseline);
      const line = progressLine(io.stderr);
      const report = await verify({
        path: target,
        python: flags.python,
        ...(flags.levels === undefined ? {} : { levels: flags.levels }),
        ...(flags.exclude === undefined ? {} : { exclude: flags.exclude }),
        ...(flags.timeout === undefined ? {} : { timeoutMs: Math.round(flags.timeout * 1000) }),
        ...(regrtest === undefined ? {} : { regrtest }),
        onProgress: (p) => line.show(describeProgress(p)),
      }).finally(() => line.done());
      let found: Regression[] | undefined;
      if (baseline !== undefined) {
        found = regressions(baseline, report);
        report.baseline = { file: flags.baseline!, regressions: found };
        const missing = report.levels.filter((l) => !baseline.levels.some((b) => b.level === l.level));
        if (missing.length > 0) {
          io.stderr.write(
            `pyfloppy: warning: the baseline has no level ${missing.map((l) => l.level).join(', ')}: not compared\n`,
          );
        }
      }
      const json = `${JSON.stringify(report, null, 2)}\n`;
      if (flags.output !== undefined) writeFileAtomic(flags.output, json);
      io.stdout.write(flags.json ? json : renderVerify(report, flags.verbose === true));
      if (flags.output !== undefined) io.stderr.write(`pyfloppy: wrote ${flags.output}\n`);
      if (found !== undefined ? found.length > 0 : report.levels.some((l) => findings(l) > 0))
        state.exitCode = 1;
    });
}

export function describeRegression(r: Regression): string {
  switch (r.kind) {
    case 'failed':
      return `${r.module}: imported in the baseline, now fails: ${r.type}: ${r.message}`;
    case 'missing':
      return `${r.module}: imported in the baseline, now not found`;
    case 'write':
      return `${r.module === '' ? '(no import)' : r.module}: tried ${r.event} ${r.path} (not in the baseline)`;
    case 'behaviour':
      return `${r.module}: ${CHECK_TEXT[r.check]} in the baseline, not now`;
    case 'tests':
      return `${r.package}: unittest discovers ${r.after} tests, ${r.before} in the baseline${r.error === null ? '' : ` (${r.error})`}`;
    case 'regrtest':
      return `${r.test}: passed in the baseline, now ${r.status}${r.first === '' ? '' : `: ${r.first}`}`;
  }
}

const CHECK_TEXT = {
  lines: 'a traceback showed its source lines',
  file: "__file__ was its code's co_filename",
  getsource: 'inspect.getsource worked',
  resources: 'importlib.resources read its data files',
} as const;

const CHECK_FAILS = {
  lines: 'a traceback would show no source line',
  file: '__file__ is not co_filename',
  getsource: 'inspect.getsource fails',
  resources: 'importlib.resources cannot read a data file',
} as const;

/** Regressions listed most telling first: a failing test says more than a thousand lines lost. */
const KIND_ORDER: Regression['kind'][] = ['regrtest', 'tests', 'failed', 'missing', 'write', 'behaviour'];

function byKind(found: Regression[]): string {
  if (found.length === 0) return '';
  const counts = new Map<string, number>();
  for (const g of found) {
    const key = g.kind === 'behaviour' ? g.check : g.kind;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return ` (${[...counts].map(([k, n]) => `${k} ${formatCount(n)}`).join(', ')})`;
}

/** What makes a run without a baseline exit 1: import writes, failing checks, failing regression tests. */
function findings(l: VerifyLevel): number {
  const checks = CHECKS.reduce((n, c) => n + (l.checks?.[c].failed.length ?? 0), 0);
  const tests = (l.tests ?? []).filter((t) => t.error !== null).length;
  return l.writes.filter((w) => w.by !== 'module').length + checks + tests + (l.regrtest?.failed.length ?? 0);
}

function passed(c: { checked: number; failed: string[] } | undefined): string {
  return c === undefined ? '-' : `${formatCount(c.checked - c.failed.length)}/${formatCount(c.checked)}`;
}

function levelRow(l: VerifyLevel): string[] {
  const moduleWrites = l.writes.filter((w) => w.by === 'module').length;
  const tests = l.tests === undefined ? '-' : formatCount(l.tests.reduce((n, t) => n + t.count, 0));
  const regrtest =
    l.regrtest === undefined
      ? '-'
      : `${formatCount(l.regrtest.tests.length - l.regrtest.failed.length)}/${formatCount(l.regrtest.tests.length)}`;
  return [
    String(l.level),
    RUN_AS[l.level] ?? '',
    formatCount(l.modules),
    formatCount(l.ok),
    formatCount(l.failed.length),
    formatCount(l.writes.length - moduleWrites),
    formatCount(moduleWrites),
    ...CHECKS.map((c) => passed(l.checks?.[c])),
    tests,
    regrtest,
  ];
}

const HEADER = [
  ['level', 'run as', 'modules', 'ok', 'failed', 'import writes', 'module writes'],
  ['lines shown', '__file__ ok', 'getsource', 'resources', 'tests found', 'regrtest ok'],
].flat();

function levelLists(
  l: VerifyLevel,
  list: <T>(title: string, items: T[], line: (x: T) => string) => void,
): void {
  const at = `level ${l.level}`;
  list(`${at}: failed imports:`, l.failed, (f) => `${f.module}: ${f.type}: ${f.message}`);
  const who = (m: string): string => (m === '' ? '(no import)' : m);
  list(
    `${at}: import write attempts (blocked):`,
    l.writes.filter((w) => w.by !== 'module'),
    (w) => `${who(w.module)}: ${w.event} ${w.path}`,
  );
  list(
    `${at}: write attempts by module code (blocked; also on an untouched tree):`,
    l.writes.filter((w) => w.by === 'module'),
    (w) => `${who(w.module)}: ${w.event} ${w.path}`,
  );
  for (const c of CHECKS) list(`${at}: ${CHECK_FAILS[c]}:`, l.checks?.[c].failed ?? [], (m) => m);
  list(
    `${at}: test packages with errors:`,
    (l.tests ?? []).filter((t) => t.error !== null),
    (t) => `${t.package}: ${t.count} tests, ${t.errors} errors: ${t.error ?? ''}`,
  );
  list(
    `${at}: regression tests that fail:`,
    l.regrtest?.failed ?? [],
    (f) => `${f.test}: ${f.status}${f.first === '' ? '' : `: ${f.first}`}`,
  );
}

export function renderVerify(r: VerifyReport, all: boolean): string {
  const out: string[] = [];
  out.push(
    `pyfloppy verify: ${r.path} with Python ${r.python.version} (${r.python.executable})`,
    r.mode === 'stdlib'
      ? `stdlib mode: PYTHONHOME=${r.prefix}; modules of ${r.entries.join(', ')}`
      : `path mode: isolated interpreter, ${r.path} first on sys.path`,
  );
  if (r.excluded.length > 0) {
    const shown = all ? r.excluded : r.excluded.slice(0, LIST_LIMIT * 2);
    const more = r.excluded.length - shown.length;
    out.push(
      `not imported: ${shown.join(', ')}${more > 0 ? `, ... and ${formatCount(more)} more (--verbose lists all)` : ''}`,
    );
  }
  out.push(
    '',
    markdownTable([HEADER, ...r.levels.map(levelRow)], {
      align: ['r', 'l', ...HEADER.slice(2).map(() => 'r')],
    }),
  );
  const list = <T>(title: string, items: T[], line: (x: T) => string): void => {
    if (items.length === 0) return;
    const shown = all ? items : items.slice(0, LIST_LIMIT);
    out.push('', title);
    for (const x of shown) out.push(`  ${line(x)}`);
    if (shown.length < items.length)
      out.push(`  ... and ${formatCount(items.length - shown.length)} more (--verbose lists all)`);
  };
  for (const l of r.levels) levelLists(l, list);
  const sum = (f: (l: VerifyLevel) => number): number => r.levels.reduce((n, l) => n + f(l), 0);
  const writes = sum((l) => l.writes.length);
  const failed = sum((l) => l.failed.length);
  const checks = sum((l) => CHECKS.reduce((n, c) => n + (l.checks?.[c].failed.length ?? 0), 0));
  const regrtest = sum((l) => l.regrtest?.failed.length ?? 0);
  if (r.baseline !== undefined) {
    const found = [...r.baseline.regressions].sort(
      (a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind),
    );
    out.push('', `against ${r.baseline.file}: ${formatCount(found.length)} regressions${byKind(found)}`);
    const shown = all ? found : found.slice(0, LIST_LIMIT * r.levels.length);
    for (const x of shown) out.push(`  level ${x.level}: ${describeRegression(x)}`);
    if (shown.length < found.length)
      out.push(`  ... and ${formatCount(found.length - shown.length)} more (--verbose lists all)`);
  }
  out.push(
    '',
    `result: ${formatCount(failed)} failed imports, ${formatCount(writes)} write attempts, ${formatCount(checks)} failed checks${
      r.levels.some((l) => l.regrtest !== undefined)
        ? `, ${formatCount(regrtest)} failing regression tests`
        : ''
    }${r.baseline === undefined ? '' : `, ${formatCount(r.baseline.regressions.length)} regressions`}`,
  );
  return `${out.join('\n')}\n`;
}
