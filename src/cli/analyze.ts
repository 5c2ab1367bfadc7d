/** `pyfloppy analyze`: argument parsing and output; the work is the library's analyze(). */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { analyze } from '../analyze.js';
import { PyfloppyError } from '../errors.js';
import { PYTHON3_LIBS } from '../strategies/catalog.js';
import { renderAnalyzeHtml } from '../report/analyze-html.js';
import { renderAnalyze } from '../report/analyze-text.js';
import { outputWidth } from '../report/table.js';
import { writeOutput } from './output.js';
import type { Io } from './main.js';
import { scanProgress, warnUnreadable } from './progress.js';

interface AnalyzeFlags {
  python?: string;
  strategies: boolean;
  baselineSubset?: string;
  baselineExclude?: string[];
  baselineNoTests?: boolean;
  format: 'text' | 'markdown' | 'json' | 'html';
  output?: string;
  json?: boolean;
  top: number;
  apparent?: boolean;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return n;
}

export function registerAnalyze(program: Command, io: Io): void {
  program
    .command('analyze')
    .summary('the footprint of a Python tree: totals by file type, biggest modules, bytecode identity')
    .description(
      [
        'Measure a Python installation: bytes by file type (.py, .pyc per optimization level, extension',
        'modules, metadata, data), the biggest top-level modules with a column per type, test code, what',
        'existing hardlinks save, and which bytecode caches are byte-identical across optimization levels.',
        '',
        'With no PATH, analyzes the stdlib and site-packages of the interpreter (--python, default: the',
        'python3 on PATH), as sysconfig reports them. Sizes are disk usage (st_blocks, what du counts) unless',
        '--apparent; every inode is counted once. Nothing is written.',
      ].join('\n'),
    )
    .argument('[path...]', "directories to analyze (default: the interpreter's library directories)")
    .option('--python <exe>', 'the interpreter to describe (and to analyze when no PATH is given)')
    .addOption(
      new Option('--format <format>', 'output format (html: one self-contained page)')
        .choices(['text', 'markdown', 'json', 'html'])
        .default('text'),
    )
    .option('--json', 'same as --format json')
    .option('-o, --output <file>', 'write the report to this file (atomically) instead of standard output')
    .option('--top <n>', 'rows in the module and distribution tables', positiveInt, 20)
    .option('--apparent', 'show apparent sizes (st_size) first instead of disk usage')
    .option('--no-strategies', 'skip the strategy estimates (they read the files to measure compression)')
    .addOption(
      new Option(
        '--baseline-subset <name>',
        'estimate over a named subset: python3-libs = the stdlib without tests, idlelib, tkinter, turtle, turtledemo, config-* and site-packages (as the seeds count)',
      ).choices(['python3-libs']),
    )
    .option(
      '--baseline-exclude <modules>',
      'estimate over the tree without these top-level modules (comma-separated)',
      (v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
    )
    .option(
      '--baseline-no-tests',
      'estimate over the tree without test code (test, tests, idle_test packages)',
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        "  pyfloppy analyze                                  # this machine's python3",
        '  pyfloppy analyze --python /usr/bin/python3.12 --top 10',
        '  pyfloppy analyze /usr/lib64/python3.12 --format markdown',
        '  pyfloppy analyze ./image-root/usr/lib/python3.12 --json > footprint.json',
        '  pyfloppy analyze --format html --output report.html',
        '  pyfloppy analyze /usr/lib64/python3.12 --baseline-subset python3-libs   # percentages as the seeds count',
        '',
        'Exit status: 0 analyzed (also when parts below PATH were unreadable: they are listed), 2 usage error,',
        'bad or unreadable PATH, or bad interpreter.',
      ].join('\n'),
    )
    .action(async (paths: string[], flags: AnalyzeFlags, cmd: Command) => {
      if (flags.json === true && cmd.getOptionValueSource('format') === 'cli' && flags.format !== 'json')
        throw new PyfloppyError('EUSAGE', `--json and --format ${flags.format} ask for two formats`, {
          hint: 'give one of them',
        });
      const progress = scanProgress(io.stderr);
      let report: Awaited<ReturnType<typeof analyze>>;
      try {
        const subset =
          flags.baselineSubset === 'python3-libs'
            ? {
                ...PYTHON3_LIBS,
                excludeModules: [...PYTHON3_LIBS.excludeModules, ...(flags.baselineExclude ?? [])],
              }
            : flags.baselineExclude !== undefined || flags.baselineNoTests === true
              ? { excludeModules: flags.baselineExclude ?? [], excludeTests: flags.baselineNoTests === true }
              : undefined;
        report = await analyze({
          paths,
          strategies: flags.strategies,
          ...(subset === undefined ? {} : { baselineSubset: subset }),
          ...(flags.python === undefined ? {} : { python: flags.python }),
          onProgress: (n, b) => progress.update(n, b),
          onPhase: (p) => progress.phase(p),
        });
      } finally {
        progress.done();
      }
      const format = flags.json ? 'json' : flags.format;
      const text =
        format === 'json'
          ? `${JSON.stringify(report, null, 2)}\n`
          : format === 'html'
            ? renderAnalyzeHtml(report, { top: flags.top })
            : renderAnalyze(report, format, {
                top: flags.top,
                size: flags.apparent ? 'apparent' : 'allocated',
                width: flags.output === undefined ? outputWidth(io.stdout) : 100,
              });
      if (flags.output === undefined) io.stdout.write(text);
      else {
        writeOutput(flags.output, text, 'report.html');
        io.stderr.write(`pyfloppy: wrote ${flags.output}\n`);
      }
      warnUnreadable(io, report.problems);
    });
}
