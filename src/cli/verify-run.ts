/** `pyfloppy verify`: the action (loaded when the command runs) and its text output. */
import path from 'node:path';
import { markdownTable } from 'markdown-table';
import { writeFileAtomic } from '../fsops/write.js';
import { formatCount } from '../report/format.js';
import {
  CHECKS,
  type Regression,
  type RegrtestOptions,
  readVerifyReport,
  regressions,
  verify,
  type VerifyLevel,
  type VerifyProgress,
  type VerifyReport,
} from '../verify/verify.js';
import type { Io, RunState } from './main.js';
import { progressLine } from './progress.js';
import { testPackageHome } from '../verify/regrtest.js';
import type { VerifyFlags } from './verify.js';
import { LIST_LIMIT } from './verify.js';

const RUN_AS = ['python', 'python -O', 'python -OO'] as const;

export async function runVerify(target: string, flags: VerifyFlags, io: Io, state: RunState): Promise<void> {
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
  if (found !== undefined ? found.length > 0 : report.levels.some((l) => findings(l) > 0)) state.exitCode = 1;
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

export function describeProgress(p: VerifyProgress): string {
  const what = p.phase === 'import' ? 'importing' : p.phase === 'tests' ? 'discovering tests' : 'regrtest';
  return `verify: level ${p.level}: ${what} ${p.done}/${p.total}: ${p.current}`;
}

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
