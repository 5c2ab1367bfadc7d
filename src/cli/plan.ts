/** `pyfloppy plan`: argument parsing and output; the work is the library's plan(). */
import type { Command } from 'commander';
import { PLANNABLE_IDS as PLANNABLE } from '../strategies/plannable.js';
import type { Io, RunState } from './main.js';

export interface PlanFlags {
  output?: string;
  cacheTag?: string;
  dest?: string;
  python?: string;
  runtime?: boolean;
  json?: boolean;
}

const DESCRIPTION = [
  'Plan how to carry out strategies on one tree: an ordered list of operations (remove, link, move,',
  'write, replace, zip, mkdir, rmdir), each with the fingerprint (dev, ino, size, mtime, ctime, SHA-256) of',
  'every file it touches and the bytes it frees. `pyfloppy apply PLAN` carries it out after re-checking them',
  'all. A distribution whose files change gets its RECORD (or installed-files.txt) rewritten in the same',
  'plan (replace), so pip and importlib.metadata name the files there are.',
  '',
  `Plannable: ${PLANNABLE.join(', ')}; combinations: drop-opt2+dedup, drop-optimized+dedup,`,
  'drop-opt2+fallback, drop-optimized+fallback, py-and-pyc0, or several ids separated by commas (they',
  'compose in the order above).',
  '  strip-tests     remove test, tests and idle_test packages',
  '  zip-data        encodings and pydoc_data (sources + level-0 .pyc) into the pythonXY.zip beside a',
  '                  stdlib root (PREFIX/lib/pythonX.Y -> PREFIX/lib/pythonXY.zip, on sys.path already)',
  '  zip-stdlib      every pure-Python module of a stdlib root into that archive; left on disk: site-packages,',
  '                  lib-dynload, os.py, pydoc.py, packages holding data files, non-UTF-8 sources (all',
  '                  listed in the notes).',
  '                  zipimport runs level-0 bytecode at -O/-OO too, and checks it against source times',
  '                  written in local time: run Python in the timezone the plan was made in',
  '  drop-opt2       remove the level-2 caches (.opt-2.pyc)',
  '  drop-optimized  remove the level-1 and level-2 caches',
  '  opt-fallback    write __pycache__/__optimization_fallback__ markers: at -O/-OO a missing optimized',
  '                  cache falls back to the next lower level (Workaround 6.1; with drop-opt2/-optimized)',
  '  no-bytecode     remove every cache, write __pycache__/__dont_write_bytecode__ markers (Option 1)',
  '  sourceless      level-0 .pyc moved to where the source was, source and levels 1-2 removed (Minimal 2)',
  '  pysources       sourceless, with each source kept gzip-compressed in __pysources__/ (Option 2)',
  '  dedup           hardlink identical levels, the pairs compileall --hardlink-dupes links',
  '',
  '',
  'CPython reads none of the three markers. On a stdlib root (3.7-3.13), no-bytecode, pysources and',
  "opt-fallback also install pyfloppy's runtime, which does: _pyfloppy_runtime.py and sitecustomize.py",
  "(for venvs) with caches the tree's interpreter compiles, and site-packages/_pyfloppy_runtime.pth (and",
  '.start, PEP 829). Modules Python imports before site runs it keep their caches. Plain operations:',
  '--rollback removes it with the rest.',
  '',
  'Without -o the plan (JSON) goes to stdout; with -o it is written there and a summary is printed.',
].join('\n');
const AFTER_HELP = [
  '',
  'Examples:',
  '  pyfloppy plan sourceless,dedup ./buildroot/usr/lib/python3.12 -o plan.json',
  '  pyfloppy plan drop-opt2+dedup /usr/lib64/python3.12 > plan.json',
  '  pyfloppy plan zip-stdlib ./image/usr/lib/python3.12 -o plan.json --json | jq .counts',
  '',
  'Exit status: 0 a plan with operations was made, 1 the plan is empty (nothing to do: said on',
  'stderr, the empty plan is still printed or written), 2 usage error (no strategy, an unknown or',
  'estimate-only one such as compress-pyc, strategies that cannot be combined), bad path.',
].join('\n');

export function registerPlan(program: Command, io: Io, state: RunState): void {
  definePlan(program).action(async (strategies: string, target: string, flags: PlanFlags) => {
    const { runPlan } = await import('./plan-run.js');
    await runPlan(strategies, target, flags, io, state);
  });
}

/** The command, its arguments, options and help; the action is runPlan() in ./plan-run.js. */
function definePlan(program: Command): Command {
  return program
    .command('plan')
    .summary('turn strategies into a reviewable JSON plan of file operations (changes nothing)')
    .description(DESCRIPTION)
    .argument('<strategies>', 'strategy ids, comma-separated (e.g. sourceless,dedup)')
    .argument('<path>', 'the tree (one directory)')
    .option('-o, --output <file>', 'write the plan to this file')
    .option('--cache-tag <tag>', "the cache tag to act on (default: the tree's commonest, e.g. cpython-313)")
    .option(
      '--dest <dir>',
      "the tree's path when Python runs it (a build root's usr/lib/python3.13 -> /usr/lib/python3.13): the file name bytecode moved by sourceless, pysources and the zip layouts carries, as compileall -d (default: where it is now)",
    )
    .option(
      '--python <path>',
      "the tree's interpreter, which compiles the runtime's caches (default: PREFIX/bin/pythonX.Y beside a stdlib root, else pythonX.Y on PATH)",
    )
    .option('--no-runtime', 'install no runtime: the markers then do nothing on CPython as it is')
    .option('--json', 'with -o, print the plan to stdout too')
    .addHelpText('after', AFTER_HELP);
}
