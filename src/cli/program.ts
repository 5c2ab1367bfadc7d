/**
 * The commander program (loaded by ./main.ts once it knows the command line needs it), and the only place
 * where errors become messages and exit codes (0 ok, 1 findings or a failed job, 2 usage or environment
 * error). Each command's definition module is loaded only when that command is named (or for help).
 */
import { Command, CommanderError } from 'commander';
import { fromSystemError, isPyfloppyError, PyfloppyError } from '../errors.js';
import { VERSION } from '../version.js';
import { helpConfiguration } from './help.js';
import type { Io, RunState } from './main.js';

type Register = (program: Command, io: Io, state: RunState) => void;

/** Every command, in the order help lists them, each definition loaded on demand. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  analyze: async () => (await import('./analyze.js')).registerAnalyze,
  dedup: async () => (await import('./dedup.js')).registerDedup,
  check: async () => (await import('./check.js')).registerCheck,
  compile: async () => (await import('./compile.js')).registerCompile,
  split: async () => (await import('./split.js')).registerSplit,
  plan: async () => (await import('./plan.js')).registerPlan,
  fit: async () => (await import('./fit.js')).registerFit,
  apply: async () => (await import('./apply.js')).registerApply,
  verify: async () => (await import('./verify.js')).registerVerify,
};

/**
 * The commands a command line needs: the one it names first (its parsing, help and errors do not depend on
 * the others), else all of them (help, an unknown command and its "did you mean").
 */
export function commandsFor(argv: readonly string[]): string[] {
  const first = argv[2];
  return first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : Object.keys(COMMANDS);
}
export async function buildProgram(
  io: Io,
  state: RunState = { exitCode: 0 },
  names: readonly string[] = Object.keys(COMMANDS),
): Promise<Command> {
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
  const registers = await Promise.all(names.map((n) => COMMANDS[n]!()));
  for (const register of registers) register(program, io, state);
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

/** Parse and run a command line; the exit code. `state` may carry what main() prepared (a compile worker). */
export async function run(argv: string[], io: Io, state: RunState): Promise<number> {
  const program = await buildProgram(io, state, commandsFor(argv));
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
