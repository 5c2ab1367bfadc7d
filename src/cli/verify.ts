/** `pyfloppy verify`: argument parsing and output; the work is the library's verify(). */
import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_REGRTESTS } from '../verify/regrtest.js';
import { VERIFY_SCHEMA } from '../verify/types.js';
import type { Io, RunState } from './main.js';

/** Findings listed per kind (or level) unless -v. */
export const LIST_LIMIT = 10;

export interface VerifyFlags {
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
    .option('--regrtest-timeout <seconds>', 'longest one test file may run (default: 600)', seconds)
    .option(
      '--tests-from <dir>',
      "a stdlib tree whose test package --regrtest runs instead of the tree's own (needed when the tree has none, or when a layout reaches the tests themselves: sourceless tests cannot be discovered); default for verify: the baseline's tree when the tree has none",
    );
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

/** The --regrtest options as the library takes them (testsFrom: given, else the baseline's tree when the
 * tree has no test package of its own). */

export function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a positive number of seconds');
  return n;
}

const DESCRIPTION = [
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
].join('\n');
const AFTER_HELP = [
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
].join('\n');

export function registerVerify(program: Command, io: Io, state: RunState): void {
  defineVerify(program).action(async (target: string, flags: VerifyFlags) => {
    const { runVerify } = await import('./verify-run.js');
    await runVerify(target, flags, io, state);
  });
}

/** The command, its arguments, options and help; the action is runVerify() in ./verify-run.js. */
function defineVerify(program: Command): Command {
  const command = program
    .command('verify')
    .summary('import every module of a tree at each optimization level; report failures and write attempts')
    .description(DESCRIPTION)
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
  return withRegrtestFlags(
    command,
    "also run the interpreter's own regression tests (python -m test) at each level; comma-separated names, default: the selection below",
  )
    .option('--json', `print the report as JSON (schema ${VERIFY_SCHEMA})`)
    .option('-o, --output <file>', 'also save the JSON report to this file (atomically)')
    .option(
      '-v, --verbose',
      `list every failure and write attempt (default: the first ${LIST_LIMIT} per level)`,
    )
    .addHelpText('after', AFTER_HELP);
}
