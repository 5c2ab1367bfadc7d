/** `pyfloppy compile`: compileall's options, output and exit status; the work is the library's compile(). */
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  type CompileOptions,
  type CompileReport,
  compile,
  type InvalidationMode,
} from '../compile/compile.js';
import { formatCount, plural } from '../report/format.js';
import { countProgress } from './progress.js';
import type { Io, RunState } from './main.js';

interface CompileFlags {
  python?: string;
  opt?: number[];
  force?: boolean;
  quiet?: boolean;
  jobs?: number;
  exclude?: string;
  limitSlDest?: string;
  ddir?: string;
  stripdir?: string;
  prependdir?: string;
  maxlevels?: number;
  invalidationMode?: InvalidationMode;
  dedup: boolean;
  json?: boolean;
}

function level(v: string, previous: number[] = []): number[] {
  const n = Number(v);
  if (![0, 1, 2].includes(n)) throw new InvalidArgumentError('an optimization level is 0, 1 or 2');
  return [...previous, n];
}

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of 0 or more');
  return n;
}

export function registerCompile(program: Command, io: Io, state: RunState): void {
  program
    .command('compile')
    .summary('byte-compile like python -m compileall: one read per source, one write per distinct cache')
    .description(
      [
        'Byte-compile sources as `python -m compileall` does, with the same options, and the same bytes: the',
        'target interpreter (--python) compiles in long-lived workers, each source read once, a level compiled',
        'only when its code can differ from the level below (assert/__debug__ for -O, docstrings for -OO),',
        'each distinct cache written once and identical levels hardlinked (--no-dedup: separate files).',
        '',
        'Every cache is written to a temporary sibling and renamed over its name: no partial .pyc is ever',
        'visible. A cache name that is a symlink is refused; a symlinked source is compiled only when it',
        'resolves inside the given paths.',
      ].join('\n'),
    )
    .argument('<path...>', 'directories (walked) and .py files')
    .option('--python <exe>', 'the interpreter that compiles (default: python3)')
    .option('-o, --opt <level>', 'optimization level 0, 1 or 2 (repeatable; default 0)', level)
    .option('-f, --force', 'compile even caches that are up to date')
    .option('-q, --quiet', 'print errors only')
    .option('-j, --jobs <n>', 'worker processes (0: one per core)', count, 1)
    .option('-x, --exclude <regex>', 'skip paths this regular expression finds (JavaScript syntax)')
    .option('-e, --limit-sl-dest <dir>', 'skip symlinked sources that point outside DIR')
    .option('-d, --ddir <dir>', 'directory prepended to the path in co_filename (the installed location)')
    .option('-s, --stripdir <dir>', 'leading part of the path removed in co_filename')
    .option('-p, --prependdir <dir>', 'directory prepended to the path in co_filename (after -s)')
    .option('-r, --maxlevels <n>', 'directory levels to descend', count)
    .addOption(
      new Option(
        '--invalidation-mode <mode>',
        'default: checked-hash when SOURCE_DATE_EPOCH is set, else timestamp',
      ).choices(['timestamp', 'checked-hash', 'unchecked-hash']),
    )
    .option('--no-dedup', 'write identical levels as separate files')
    .option('--json', 'print the report as JSON (schema pyfloppy.compile/1)')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  pyfloppy compile -o0 -o1 -o2 -j0 --python /usr/bin/python3.13 %{buildroot}/usr/lib/python3.13 \\',
        '      -s %{buildroot} -x "bad_coding|badsyntax"',
        '',
        "Exit status: 0 all compiled, 1 some sources failed (each is listed with the interpreter's message),",
        '2 usage error, bad path or interpreter.',
      ].join('\n'),
    )
    .action(async (paths: string[], flags: CompileFlags) => {
      let exclude: RegExp | undefined;
      try {
        exclude = flags.exclude === undefined ? undefined : new RegExp(flags.exclude);
      } catch (e) {
        throw new InvalidArgumentError(`-x: ${(e as Error).message}`);
      }
      const report = await compileShowingProgress(io, {
        paths,
        levels: flags.opt ?? [0],
        force: flags.force === true,
        dedup: flags.dedup,
        ...(flags.python === undefined ? {} : { python: flags.python }),
        ...(flags.jobs === undefined ? {} : { jobs: flags.jobs }),
        ...(exclude === undefined ? {} : { exclude }),
        ...(flags.limitSlDest === undefined ? {} : { limitSymlinks: flags.limitSlDest }),
        ...(flags.ddir === undefined ? {} : { ddir: flags.ddir }),
        ...(flags.stripdir === undefined ? {} : { stripdir: flags.stripdir }),
        ...(flags.prependdir === undefined ? {} : { prependdir: flags.prependdir }),
        ...(flags.maxlevels === undefined ? {} : { maxlevels: flags.maxlevels }),
        ...(flags.invalidationMode === undefined ? {} : { invalidationMode: flags.invalidationMode }),
      });
      if (flags.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else io.stdout.write(renderCompile(report, flags.quiet === true));
      if (report.errors.length > 0) state.exitCode = 1;
    });
}

/** compile() with its progress line on a terminal: sources compiled of the total. */
async function compileShowingProgress(io: Io, options: CompileOptions): Promise<CompileReport> {
  const progress = countProgress('compiling', io.stderr);
  try {
    return await compile({ ...options, onProgress: (done, total) => progress.update(done, total) });
  } finally {
    progress.done();
  }
}

export function renderCompile(r: CompileReport, quiet: boolean): string {
  const out: string[] = [];
  for (const e of r.errors) out.push(`*** Error compiling '${e.path}':`, e.message);
  if (!quiet) {
    for (const s of r.skipped) out.push(`skipped ${s.path}: ${s.reason}`);
    if (r.leftoversRemoved.length > 0)
      out.push(`removed ${plural(r.leftoversRemoved.length, 'temporary file')} left by an interrupted run`);
    out.push(
      `pyfloppy compile: ${plural(r.sources, 'source')} with ${r.interpreter.cacheTag} at levels ${r.levels.join(', ')}: ${formatCount(r.compiled)} compiled, ${formatCount(r.upToDate)} up to date, ${formatCount(r.errors.length)} failed; ${plural(r.written, 'cache')} written, ${formatCount(r.linked)} linked`,
    );
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
