/** `pyfloppy fit`: argument parsing and help; the work is the library's fit(), run by ./fit-run.ts. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Io, RunState } from './main.js';

export interface FitFlags {
  budget: number;
  compressed?: boolean;
  output?: string;
  json?: boolean;
  cacheTag?: string;
  dest?: string;
  python?: string;
  runtime?: boolean;
}

const DESCRIPTION = [
  'Find the least risky set of strategies that brings a tree under a size budget, and with -o the plan',
  'that gets it there (review it, then `pyfloppy apply`). Changes nothing.',
  '',
  'Every set of plannable strategies that can be combined is a candidate. Least risky: the fewest',
  "constraints of seed 001 put at risk ((1) Python users' expectations, (2) the distribution's users'",
  'expectations, (5) no divergence from upstream, ...), then the most bytes kept. Each candidate is',
  'measured on the real bytes (its layouts composed over the tree, as analyze estimates them); the',
  'chosen one is planned on the tree and measured again (a stale cache keeps its source): if the plan',
  'misses the budget, the next candidate is tried.',
  '',
  'Sizes are apparent bytes (what `du --apparent-size` counts and what an unpacked bundle limit counts,',
  'e.g. AWS Lambda: 262,144,000 bytes = 250 MiB unzipped). With --compressed: the size of a zip of the',
  'tree (each file deflated at level 6, plus its zip headers; a hardlink is stored once per name).',
  '',
  'A bundle or package (a Lambda zip, a wheel, a tar, an RPM, a deb) is read without unpacking, as analyze',
  'reads it: its sets are measured (caches taken as fresh; zip-data, zip-stdlib and pysources, which need',
  "the files' contents, left out), but not planned: unpack it to plan and apply. --compressed for a bundle is",
  "estimated: removed bytes compress at the payload's average ratio.",
  '',
  'SIZE: bytes, or a number with a unit: kB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).',
].join('\n');
const AFTER_HELP = [
  '',
  'Examples:',
  '  pyfloppy fit --budget 250MiB ./lambda/python -o plan.json && pyfloppy apply plan.json',
  '  pyfloppy fit --budget 50MB --compressed ./bundle --json | jq .chosen',
  '',
  'Exit status: 0 a set fits (the tree may fit already: then nothing is planned), 1 no set fits (the',
  'closest one and how far over the budget it stays are named), 2 usage error, bad path.',
].join('\n');

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** A size as a user writes it: `262144000`, `250MB`, `250 MiB`, `1.5GB`. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = UNITS[(m?.[2] ?? 'x').toLowerCase()];
  if (m === null || unit === undefined)
    throw new InvalidArgumentError('a size is bytes or a number with kB, MB, GB, KiB, MiB or GiB');
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new InvalidArgumentError('a size above zero');
  return bytes;
}

export function registerFit(program: Command, io: Io, state: RunState): void {
  defineFit(program).action(async (target: string, flags: FitFlags) => {
    const { runFit } = await import('./fit-run.js');
    await runFit(target, flags, io, state);
  });
}

/** The command, its arguments, options and help; the action is runFit() in ./fit-run.js. */
function defineFit(program: Command): Command {
  return program
    .command('fit')
    .summary('the least risky strategies that bring a tree under a size budget, and their plan')
    .description(DESCRIPTION)
    .argument('<path>', 'the tree (one directory), or a bundle or package (zip, wheel, tar, RPM, deb)')
    .addOption(
      new Option('--budget <size>', 'the size to get under (e.g. 250MB)')
        .argParser(parseSize)
        .makeOptionMandatory(),
    )
    .option('--compressed', 'the budget is for the tree zipped (deflate), not its apparent size')
    .option('-o, --output <file>', 'write the plan of the chosen strategies to this file')
    .option('--json', 'print the pyfloppy.fit/1 report (with the plan when -o is given) as JSON')
    .option('--cache-tag <tag>', "the cache tag to act on (default: the tree's commonest)")
    .option('--dest <dir>', "the tree's path when Python runs it (as for plan)")
    .option('--python <path>', "the tree's interpreter (as for plan: compiles the runtime's caches)")
    .option('--no-runtime', 'install no runtime (as for plan)')
    .addHelpText('after', AFTER_HELP);
}
