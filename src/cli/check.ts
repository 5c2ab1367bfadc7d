/** `pyfloppy check`: argument parsing and output; the work is the library's check(). */
import { type Command, InvalidArgumentError } from 'commander';
import { FINDING_IDS, FINDING_LIST, type FindingId, isFindingId } from '../check/finding-list.js';
import type { Io, RunState } from './main.js';

/** Findings listed per kind (or level) unless -v. */
export const LIST_LIMIT = 10;

export interface CheckFlags {
  python?: string;
  platform?: string;
  expectPrefix?: string;
  ignore?: FindingId[];
  json?: boolean;
  verbose?: boolean;
}

/** Findings listed per id in text output unless --verbose. */

export function findingList(v: string, previous: FindingId[] = []): FindingId[] {
  const ids = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const id of ids) {
    if (!isFindingId(id))
      throw new InvalidArgumentError(`unknown finding '${id}' (one of: ${FINDING_IDS.join(', ')})`);
  }
  return [...previous, ...(ids as FindingId[])];
}

const DESCRIPTION = [
  'Read every bytecode cache of a tree as the import system will, and report each one that makes Python',
  'try to write (stale by timestamp or hash, a missing optimization level, a wrong magic number), that is',
  'dead weight (orphans, foreign cache tags, legacy .pyc shadowed by sources, identical levels not',
  'hardlinked), or that leaks the build machine (co_filename outside the installed path).',
  '',
  "The tree's interpreter is --python when given (with no PATH, the python3 on PATH checks its own",
  'library), else inferred from the dominant cache tag; the report says which. A --python whose cache',
  "tag none of the tree's caches has (3.12 on a 3.13 tree) is refused. Nothing is written and no",
  'code of the tree is run (with an interpreter, sources without any cache are compiled, not run, to tell',
  'those that cannot compile apart).',
  '',
  'PATH may also be a container image (a `docker save` archive, an OCI layout or archive, an archive gzip',
  'or zstd compressed; --platform when it holds several) or a root file system directory: its Python is found inside it, the image is read',
  'layer by layer without unpacking it, its interpreter inferred (never run), and each finding names the',
  'layer that added the file.',
  '',
  'PATH may also be a package or bundle (a wheel, a zip bundle such as an AWS Lambda zip, a tar,',
  '.tar.gz, .tar.xz or .tar.zst, an RPM, a deb), recognized by its first bytes and read the same way',
  'without unpacking it: a wheel or bundle is a sys.path entry itself, a tar, RPM or deb is searched as',
  'an image is.',
  '',
  'Findings:',
  ...FINDING_IDS.map(
    (id) => `  ${id.padEnd(20)}${FINDING_LIST[id].severity.padEnd(8)} ${FINDING_LIST[id].meaning}`,
  ),
].join('\n');
const AFTER_HELP = [
  '',
  'Examples:',
  "  pyfloppy check                                        # this machine's python3",
  '  pyfloppy check /usr/lib64/python3.12 --python /usr/bin/python3.12',
  '  pyfloppy check %{buildroot}/usr/lib/python3.12 --expect-prefix /usr/lib/python3.12',
  '  pyfloppy check ./venv/lib/python3.12/site-packages --ignore unlinked-duplicate --json',
  '  docker save myapp:latest -o myapp.tar && pyfloppy check myapp.tar',
  '',
  'Exit status: 0 no error or warning (infos allowed), 1 errors or warnings found, 2 usage error, bad path',
  'or interpreter.',
].join('\n');

export function registerCheck(program: Command, io: Io, state: RunState): void {
  defineCheck(program).action(async (paths: string[], flags: CheckFlags) => {
    const { runCheck } = await import('./check-run.js');
    await runCheck(paths, flags, io, state);
  });
}

/** The command, its arguments, options and help; the action is runCheck() in ./check-run.js. */
function defineCheck(program: Command): Command {
  return program
    .command('check')
    .summary(
      'lint bytecode caches as the interpreter will see them: stale, missing, orphaned, foreign, duplicated',
    )
    .description(DESCRIPTION)
    .argument(
      '[path...]',
      "directories, a container image, or a package (wheel, zip, tar, rpm, deb) to check (default: the interpreter's library directories)",
    )
    .option('--python <exe>', "the tree's interpreter (default: inferred from the caches)")
    .option('--platform <os/arch>', 'the platform to read in an image index that holds several')
    .option(
      '--expect-prefix <dir>',
      'where the (one) PATH will be installed: co_filename must point below it',
    )
    .option('--ignore <ids>', 'finding ids to leave out, comma-separated (repeatable)', findingList)
    .option('--json', 'print the report as JSON (schema pyfloppy.check/1) with every finding')
    .option('-v, --verbose', `list every finding (default: the first ${LIST_LIMIT} of each kind)`)
    .addHelpText('after', AFTER_HELP);
}
