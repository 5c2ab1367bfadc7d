/** `pyfloppy apply`: argument parsing and output; the work is the library's apply(), rollback(), commit(). */
import type { Command } from 'commander';
import type { Io, RunState } from './main.js';
import { collect, levelList, withRegrtestFlags } from './verify.js';

export interface ApplyFlags {
  dryRun?: boolean;
  commit?: boolean;
  rollback?: boolean;
  verify?: boolean;
  python?: string;
  levels?: number[];
  exclude?: string[];
  json?: boolean;
  regrtest?: string[] | true;
  jobs?: number;
  regrtestTimeout?: number;
  testsFrom?: string;
}

const DESCRIPTION = [
  'Carry out a plan made by `pyfloppy plan`. First every file it touches is checked against its',
  'fingerprint and content hash, and every name it creates is checked absent: if anything differs,',
  'nothing is changed and the files are named (exit 1). Then each operation keeps the old name in a',
  'journal (.pyfloppy-journal/ in the tree), so that a failure, a regression or a crash can be undone:',
  'killed at any point, `apply --rollback PLAN` restores every path, and `apply PLAN` again finishes.',
  'At the end the journal is deleted (commit) unless --no-commit.',
  '',
  'With --verify --python EXE, verify runs before and after (imports at each level, write attempts)',
  'and any regression rolls the change back; with --regrtest, also the regression tests of verify',
  '--regrtest, and any test that passed before and fails after rolls the change back.',
].join('\n');
const AFTER_HELP = [
  '',
  'Examples:',
  '  pyfloppy apply --dry-run plan.json                # check the plan against the tree, change nothing',
  '  pyfloppy apply plan.json',
  '  pyfloppy apply --verify --python ./root/usr/bin/python3.12 plan.json',
  '  pyfloppy apply --verify --python /usr/bin/python3.13 --regrtest --tests-from /orig/lib/python3.13 plan.json',
  '  pyfloppy apply --no-commit plan.json && run-my-tests && pyfloppy apply --commit plan.json',
  '  pyfloppy apply --rollback plan.json               # undo an interrupted or uncommitted apply',
  '',
  'Exit status: 0 applied, checked (--dry-run), already applied, undone (--rollback) or committed',
  '(--commit); 1 refused (files differ from the plan: nothing changed), rolled back after a failure or a',
  'regression, or a rollback that left paths in the way; 2 usage error (conflicting options, a malformed',
  'plan), or the file system refused (read-only, full, not permitted: one line naming the path and errno).',
].join('\n');

export function registerApply(program: Command, io: Io, state: RunState): void {
  defineApply(program).action(async (target: string, flags: ApplyFlags, cmd: Command) => {
    const { runApply } = await import('./apply-run.js');
    await runApply(target, flags, cmd, io, state);
  });
}

/** The command, its arguments, options and help; the action is runApply() in ./apply-run.js. */
function defineApply(program: Command): Command {
  const command = program
    .command('apply')
    .summary('carry out a plan with a journal; roll back on failure or on a regression verify finds')
    .description(DESCRIPTION)
    .argument('<plan>', 'the plan file (for --rollback and --commit: the plan or the tree)')
    .option('-n, --dry-run', 'check the plan against the tree, change nothing')
    .option('--no-commit', 'keep the journal at the end (undo later with --rollback, or --commit)')
    .option('--rollback', 'undo an interrupted or uncommitted apply')
    .option('--commit', 'delete the journal of a finished apply made with --no-commit')
    .option('--verify', 'verify before and after, roll back on any regression (needs --python)')
    .option('--python <exe>', 'the interpreter of the tree, for --verify')
    .option('--levels <list>', 'optimization levels to verify (default 0,1,2)', levelList)
    .option('--exclude <module>', 'module prefix verify does not import (repeatable)', collect);
  return withRegrtestFlags(
    command,
    "with --verify: also run the interpreter's regression tests before and after (see verify --help)",
  )
    .option('--json', 'print the report as JSON')
    .addHelpText('after', AFTER_HELP);
}
