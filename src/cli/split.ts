/** `pyfloppy split`: argument parsing, output and the written file lists; the work is the library's split(). */
import { type Command, Option } from 'commander';
import { SPLIT_POLICIES, type SplitPolicy } from '../split/policies.js';
import type { Io, RunState } from './main.js';

export interface SplitFlags {
  policy?: SplitPolicy;
  format: 'rpm' | 'list' | 'json';
  prefix?: string;
  name?: string;
  outputDir?: string;
  check?: string;
}

const DESCRIPTION = [
  'Split a Python tree into the file lists of sub-packages, as a distribution packages it (seed 001,',
  'Solution 5, Problem 5.3), and check that the lists are sound. Nothing in the tree is changed.',
  '',
  "Policies (NAME: --name, default the tree's basename):",
  '  bytecode   NAME owns everything but caches, with %dir for each __pycache__ and %ghost for every',
  '             cache; NAME-bytecode-cache (level 0), NAME-bytecode-cache-opt-1, NAME-bytecode-cache-opt-2',
  '  optimized  NAME owns sources, data and level-0 caches, %ghost for levels 1 and 2;',
  '             NAME-bytecode-cache-opt-1, NAME-bytecode-cache-opt-2',
  '  tests      NAME owns everything but test code; NAME-tests the test, tests and idle_test packages',
  '  sources    for sourceless layouts: NAME-sources owns the __pysources__ directories and the .py files',
  '             that have a legacy .pyc beside them; NAME the rest',
  '',
  'A directory belongs to the section whose files alone live in it; one shared by several sections (or',
  'holding a %ghost) to NAME. Symlinks are files. Paths are the installed paths: --prefix joined with the',
  "path in the tree, written as rpm's %files parser reads them back (quoted, %, globs escaped); a name rpm",
  'cannot take is reported and left as a comment line.',
  '',
  'The check, always run: (a) disjoint: no path owned by two sections; (b) cover: every file and directory',
  'of the tree owned by exactly one section; (c) subset: NAME owns and ghosts only paths of the tree, and',
  'every %ghost of NAME is owned by another section (NAME plus all sub-packages give exactly the tree).',
].join('\n');
const AFTER_HELP = [
  '',
  'Examples:',
  '  pyfloppy split %{buildroot}/usr/lib64/python3.12 --policy bytecode --prefix /usr/lib64/python3.12 \\',
  '      --name python3-libs --output-dir %{_builddir}        # then: %files -n python3-libs -f python3-libs.files',
  '  pyfloppy split ./venv/lib/python3.12/site-packages --policy tests --format list',
  '  pyfloppy split /usr/lib/python3.12 --policy optimized --format json > split.json',
  '  pyfloppy split /usr/lib/python3.12 --check split.json',
  '',
  'With --check and no --format, only the sections and the verdict are printed (the lists are in FILE).',
  '',
  'Exit status: 0 the split is sound, 1 the check found violations (each is named on stderr) or could',
  'not be complete (an unreadable directory: its files cannot be shown to be covered), 2 usage or',
  'environment error (missing PATH, unknown policy, --output-dir missing or not writable, bad --check file).',
].join('\n');

export function registerSplit(program: Command, io: Io, state: RunState): void {
  defineSplit(program).action(async (treePath: string, flags: SplitFlags, cmd: Command) => {
    const { runSplit } = await import('./split-run.js');
    await runSplit(treePath, flags, cmd, io, state);
  });
}

/** The command, its arguments, options and help; the action is runSplit() in ./split-run.js. */
function defineSplit(program: Command): Command {
  return program
    .command('split')
    .summary(
      'file lists of sub-packages (bytecode cache, optimized levels, tests, sources) with %dir and %ghost',
    )
    .description(DESCRIPTION)
    .argument('<path>', 'the tree (one directory)')
    .addOption(new Option('--policy <policy>', 'how to split').choices(SPLIT_POLICIES))
    .addOption(
      new Option('--format <format>', 'rpm: %files lists; list: plain path lists; json: the report')
        .choices(['rpm', 'list', 'json'])
        .default('rpm'),
    )
    .option('--prefix <dir>', 'the path the tree will have on the target system (default: PATH itself)')
    .option('--name <name>', "the main package's name (default: the tree's basename)")
    .option(
      '--output-dir <dir>',
      'write one file per section there (NAME.files, NAME.list, or NAME.split.json) and list what was written',
    )
    .option('--check <file>', 're-check a (possibly edited) pyfloppy.split/1 JSON file against the tree')
    .addHelpText('after', AFTER_HELP);
}
