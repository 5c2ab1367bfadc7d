/**
 * The command-line entry point, light on purpose: a small package's whole run is a few tenths of a second,
 * and most of it is start-up. `--version` loads no other module; otherwise ./program.ts (commander and the
 * one command named) parses, runs and maps errors to exit codes.
 */
import { VERSION } from '../version.js';

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** What a command's action reports back to main(): 1 for findings or a job that partly failed. */
export interface RunState {
  exitCode: number;
}

export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const args = argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const state: RunState = { exitCode: 0 };
  const { run } = await import('./program.js');
  return await run(argv, io, state);
}
