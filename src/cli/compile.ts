/** `pyfloppy compile`: compileall's options, output and exit status; the work is the library's compile(). */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { InvalidationMode } from '../compile/compile.js';
import type { Io, RunState } from './main.js';

export interface CompileFlags {
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

export function level(v: string, previous: number[] = []): number[] {
  const n = Number(v);
  if (![0, 1, 2].includes(n)) throw new InvalidArgumentError('an optimization level is 0, 1 or 2');
  return [...previous, n];
}

export function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of 0 or more');
  return n;
}

const DESCRIPTION = [
  'Byte-compile sources as `python -m compileall` does, with the same options, and the same bytes: the',
  'target interpreter (--python) compiles in long-lived workers, each source read once, a level compiled',
  'only when its code can differ from the level below (assert/__debug__ for -O, docstrings for -OO),',
  'each distinct cache written once and identical levels hardlinked (--no-dedup: separate files).',
  '',
  'Every cache is written to a temporary sibling and renamed over its name: no partial .pyc is ever',
  'visible. A cache name that is a symlink is refused; a symlinked source is compiled only when it',
  'resolves inside the given paths.',
].join('\n');
const AFTER_HELP = [
  '',
  'Examples:',
  '  pyfloppy compile -o0 -o1 -o2 -j0 --python /usr/bin/python3.13 %{buildroot}/usr/lib/python3.13 \\',
  '      -s %{buildroot} -x "bad_coding|badsyntax"',
  '',
  "Exit status: 0 all compiled, 1 some sources failed (each is listed with the interpreter's message),",
  '2 usage error, bad path or interpreter.',
].join('\n');

export function registerCompile(program: Command, io: Io, state: RunState): void {
  defineCompile(program).action(async (paths: string[], flags: CompileFlags) => {
    const { runCompile } = await import('./compile-run.js');
    await runCompile(paths, flags, io, state);
  });
}

/** The command, its arguments, options and help; the action is runCompile() in ./compile-run.js. */
function defineCompile(program: Command): Command {
  return program
    .command('compile')
    .summary('byte-compile like python -m compileall: one read per source, one write per distinct cache')
    .description(DESCRIPTION)
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
    .addHelpText('after', AFTER_HELP);
}
