/** `pyfloppy dedup`: argument parsing and output; the work is the library's dedup(). */
import type { Command } from 'commander';
import type { Io, RunState } from './main.js';

export interface DedupFlags {
  all?: boolean;
  dryRun?: boolean;
  json?: boolean;
  verbose?: boolean;
}

const DESCRIPTION = [
  'Hardlink byte-identical bytecode caches of one module across optimization levels: exactly the pairs',
  '`python -m compileall --hardlink-dupes` links (levels sorted, each compared with the previous one',
  "present), on trees compiled by anyone. The lower level's file survives and keeps its metadata.",
  '',
  'Safe: candidates are chosen by name and size, bytes decide; right before each link both files are',
  'checked against what they were when compared (device, inode, size, mtime, ctime) and a changed file is',
  'left alone; a file is replaced by linking to a temporary sibling and renaming it over the name, so every',
  'path holds its old or its new identical content at every instant. Symlinks are never followed; nothing',
  'is copied or symlinked instead of linked. A second run changes nothing.',
  '',
  'Each link acts inside directories opened one by one without following symlinks and checked again',
  'right before each system call: a directory swapped for a symlink is refused (reason "unsafe"). Files',
  'whose inode also has names outside the given paths are left alone (said in the output). One changing',
  'run per tree: a second one is refused while .pyfloppy-lock names a live holder. Temporaries left by',
  'an interrupted pyfloppy run are removed first.',
].join('\n');
const AFTER_HELP = [
  '',
  'Examples:',
  '  pyfloppy dedup /usr/lib64/python3.12               # as compileall -o0 -o1 -o2 --hardlink-dupes would',
  '  pyfloppy dedup --dry-run ./buildroot/usr/lib/python3.12',
  '  pyfloppy dedup --all --json /opt/venv > dedup.json',
  '',
  'Exit status: 0 done (also when there was nothing to do), 1 some pairs were skipped for errors',
  '(a file changed, cross-device, too many links, read-only, no space, ...: each is listed), 2 usage error',
  'or a tree on a read-only file system (one line: nothing could be linked).',
].join('\n');

export function registerDedup(program: Command, io: Io, state: RunState): void {
  defineDedup(program).action(async (paths: string[], flags: DedupFlags) => {
    const { runDedup } = await import('./dedup-run.js');
    await runDedup(paths, flags, io, state);
  });
}

/** The command, its arguments, options and help; the action is runDedup() in ./dedup-run.js. */
function defineDedup(program: Command): Command {
  return program
    .command('dedup')
    .summary('hardlink byte-identical bytecode across optimization levels (as compileall --hardlink-dupes)')
    .description(DESCRIPTION)
    .argument('<path...>', 'directories to deduplicate')
    .option(
      '--all',
      'also link any byte-identical regular files on one device with the same owner, mode and mtime (never empty files); identical files whose metadata differ are reported',
    )
    .option('-n, --dry-run', 'decide everything, change nothing, and list what would be linked')
    .option('--json', 'print the report as JSON (schema pyfloppy.dedup/1)')
    .option('-v, --verbose', 'list every pair linked')
    .addHelpText('after', AFTER_HELP);
}
