/** `pyfloppy verify`: argument parsing and output; the work is the library's verify(). */
import { type Command, InvalidArgumentError } from 'commander';
import { markdownTable } from 'markdown-table';
import { writeFileAtomic } from '../fsops/write.js';
import { formatCount } from '../report/format.js';
import {
  type Regression,
  readVerifyReport,
  regressions,
  verify,
  VERIFY_SCHEMA,
  type VerifyReport,
} from '../verify/verify.js';
import type { Io, RunState } from './main.js';

interface VerifyFlags {
  python: string;
  levels?: number[];
  exclude?: string[];
  timeout?: number;
  baseline?: string;
  json?: boolean;
  output?: string;
  verbose?: boolean;
}

/** Failures and write attempts listed per level in text output unless --verbose. */
const LIST_LIMIT = 10;
const RUN_AS = ['python', 'python -O', 'python -OO'] as const;

function levelList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^[012]$/.test(p)))
    throw new InvalidArgumentError('levels are 0, 1 and 2, comma-separated (e.g. 0,1,2)');
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

function collect(v: string, previous: string[] = []): string[] {
  return [...previous, v];
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a positive number of seconds');
  return n;
}

export function registerVerify(program: Command, io: Io, state: RunState): void {
  program
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
    .option('--baseline <file>', 'a previous `verify --json` report of the original tree: report regressions')
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
        'Never imported: __main__ modules, antigravity, this, __hello__, __phello__, idlelib.idle.',
        '',
        'Exit status: 0 clean, 1 regressions against --baseline (without one: any write attempt), 2 usage',
        'error, bad path or interpreter.',
      ].join('\n'),
    )
    .action(async (target: string, flags: VerifyFlags) => {
      const baseline = flags.baseline === undefined ? undefined : readVerifyReport(flags.baseline);
      const report = await verify({
        path: target,
        python: flags.python,
        ...(flags.levels === undefined ? {} : { levels: flags.levels }),
        ...(flags.exclude === undefined ? {} : { exclude: flags.exclude }),
        ...(flags.timeout === undefined ? {} : { timeoutMs: Math.round(flags.timeout * 1000) }),
      });
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
      const writes = report.levels.some((l) => l.writes.length > 0);
      if (found !== undefined ? found.length > 0 : writes) state.exitCode = 1;
    });
}

function describeRegression(r: Regression): string {
  switch (r.kind) {
    case 'failed':
      return `${r.module}: imported in the baseline, now fails: ${r.type}: ${r.message}`;
    case 'missing':
      return `${r.module}: imported in the baseline, now not found`;
    case 'write':
      return `${r.module === '' ? '(no import)' : r.module}: tried ${r.event} ${r.path} (the baseline had no write attempt at this level)`;
  }
}

export function renderVerify(r: VerifyReport, all: boolean): string {
  const out: string[] = [];
  out.push(
    `pyfloppy verify: ${r.path} with Python ${r.python.version} (${r.python.executable})`,
    r.mode === 'stdlib'
      ? `stdlib mode: PYTHONHOME=${r.prefix}; modules of ${r.entries.join(', ')}`
      : `path mode: isolated interpreter, ${r.path} first on sys.path`,
  );
  if (r.excluded.length > 0) out.push(`not imported: ${r.excluded.join(', ')}`);
  out.push(
    '',
    markdownTable(
      [
        ['level', 'run as', 'modules', 'ok', 'failed', 'write attempts', 'with source'],
        ...r.levels.map((l) => [
          String(l.level),
          RUN_AS[l.level] ?? '',
          formatCount(l.modules),
          formatCount(l.ok),
          formatCount(l.failed.length),
          formatCount(l.writes.length),
          formatCount(l.withSource),
        ]),
      ],
      { align: ['r', 'l', 'r', 'r', 'r', 'r', 'r'] },
    ),
  );
  const list = <T>(title: string, items: T[], line: (x: T) => string): void => {
    if (items.length === 0) return;
    const shown = all ? items : items.slice(0, LIST_LIMIT);
    out.push('', title);
    for (const x of shown) out.push(`  ${line(x)}`);
    if (shown.length < items.length)
      out.push(`  ... and ${formatCount(items.length - shown.length)} more (--verbose lists all)`);
  };
  for (const l of r.levels) {
    list(`level ${l.level}: failed imports:`, l.failed, (f) => `${f.module}: ${f.type}: ${f.message}`);
    list(
      `level ${l.level}: write attempts (blocked):`,
      l.writes,
      (w) => `${w.module === '' ? '(no import)' : w.module}: ${w.event} ${w.path}`,
    );
  }
  const writes = r.levels.reduce((s, l) => s + l.writes.length, 0);
  const failed = r.levels.reduce((s, l) => s + l.failed.length, 0);
  if (r.baseline !== undefined) {
    const found = r.baseline.regressions;
    out.push('', `against ${r.baseline.file}: ${formatCount(found.length)} regressions`);
    const shown = all ? found : found.slice(0, LIST_LIMIT * r.levels.length);
    for (const x of shown) out.push(`  level ${x.level}: ${describeRegression(x)}`);
    if (shown.length < found.length)
      out.push(`  ... and ${formatCount(found.length - shown.length)} more (--verbose lists all)`);
  }
  out.push(
    '',
    `result: ${formatCount(failed)} failed imports, ${formatCount(writes)} write attempts${
      r.baseline === undefined ? '' : `, ${formatCount(r.baseline.regressions.length)} regressions`
    }`,
  );
  return `${out.join('\n')}\n`;
}
