/**
 * The command-line entry point: builds the commander program, runs it, and is the only place where errors
 * become messages and exit codes (0 ok, 1 findings or a failed job, 2 usage or environment error).
 */
import { Command, CommanderError } from 'commander';
import { fromSystemError, isPyfloppyError, PyfloppyError } from '../errors.js';
import { VERSION } from '../version.js';
import { registerAnalyze } from './analyze.js';
import { helpConfiguration } from './help.js';
import { registerApply } from './apply.js';
import { registerCheck } from './check.js';
import { registerCompile } from './compile.js';
import { registerDedup } from './dedup.js';
import { registerSplit } from './split.js';
import { registerPlan } from './plan.js';
import { registerVerify } from './verify.js';

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** What a command's action reports back to main(): 1 for findings or a job that partly failed. */
export interface RunState {
  exitCode: number;
}

export function buildProgram(io: Io, state: RunState = { exitCode: 0 }): Command {
  const program = new Command('pyfloppy')
    .description('Measure and shrink Python installations.')
    .version(VERSION, '-V, --version')
    .configureHelp(helpConfiguration)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Why: main() prints every parsing error itself, as one `pyfloppy: error:` line and a hint.
      outputError: () => undefined,
    })
    .exitOverride();
  registerAnalyze(program, io);
  registerDedup(program, io, state);
  registerCheck(program, io, state);
  registerCompile(program, io, state);
  registerSplit(program, io, state);
  registerPlan(program, io, state);
  registerApply(program, io, state);
  registerVerify(program, io, state);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Commander's own messages ("error: unknown option '-x'\n(Did you mean -X?)") as our message and hint. */
function usageError(e: CommanderError, argv: string[], program: Command): PyfloppyError {
  const [first = '', ...rest] = e.message.replace(/^error: /, '').split('\n');
  // The first argument that names a command (a later one may be a value: `plan dedup PATH`).
  const names = new Set(program.commands.map((c) => c.name()));
  const command = argv.slice(2).find((a) => names.has(a));
  const help = command === undefined ? 'pyfloppy --help' : `pyfloppy ${command} --help`;
  const similar = /^\(Did you mean (.*)\?\)$/.exec(rest.join(' ').trim())?.[1];
  return new PyfloppyError('EUSAGE', first, {
    hint:
      similar === undefined
        ? `${help} shows the usage`
        : `did you mean ${similar}? (${help} shows the usage)`,
  });
}

/** Why: a message that quotes a file (JSON.parse quotes the text it choked on) must stay one line. */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const state: RunState = { exitCode: 0 };
  const program = buildProgram(io, state);
  // Why: `pyfloppy analyze | head` closes the pipe early; that is the reader's choice, not an error to print.
  io.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  try {
    await program.parseAsync(argv);
    return state.exitCode;
  } catch (e) {
    // Help and version are not errors; help shown for a missing command is a usage error (2).
    if (e instanceof CommanderError && HELP_CODES.has(e.code)) return e.exitCode === 0 ? 0 : 2;
    // Why: an errno the file system returned (ENOSPC, EROFS, EPERM, EIO ...) is the environment's refusal,
    // not a bug: one line naming the path and the errno, exit 2, as for the errors the library types.
    // Every other commander error (an unknown option, a bad value) is a usage error, said the same way.
    const known =
      e instanceof CommanderError
        ? usageError(e, argv, program)
        : isPyfloppyError(e)
          ? e
          : fromSystemError(e);
    if (known !== undefined) {
      io.stderr.write(`pyfloppy: error: ${oneLine(known.message)}\n`);
      if (known.hint !== undefined) io.stderr.write(`pyfloppy: hint: ${oneLine(known.hint)}\n`);
      return known.exitCode;
    }
    io.stderr.write(`pyfloppy: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return 2;
  }
}
