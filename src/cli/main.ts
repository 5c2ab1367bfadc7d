/**
 * The command-line entry point, light on purpose: a small package's whole run is a few tenths of a second,
 * and most of it is start-up. `--version` loads no command module; `compile` starts its worker's interpreter
 * before anything else is loaded, so that the two start-ups overlap; then ./program.ts (commander and the
 * one command named) parses, runs and maps errors to exit codes.
 */
// Why static: loaded with this module (in parallel), the worker starts ~20 ms sooner than after an import();
// it is light (it imports errors only, which every command loads anyway).
import { type CompileWorker, startCompileWorker } from '../compile/worker.js';
import { VERSION } from '../version.js';

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** What a command's action reports back to main(): 1 for findings or a job that partly failed. */
export interface RunState {
  exitCode: number;
  /** compile's worker, started by main() before the program was loaded (compile-run hands it on). */
  compileWorker?: CompileWorker;
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
  if (args[0] === 'compile' && !args.some((a) => a === '--help' || a === '-h'))
    state.compileWorker = startCompileWorker(pythonOf(args));
  try {
    const { run } = await import('./program.js');
    return await run(argv, io, state);
  } finally {
    // Why: a worker compile did not take (a usage error, another --python than guessed) must not keep the
    // process alive.
    state.compileWorker?.dispose();
  }
}

/**
 * The interpreter a compile command line names, read ahead of commander: a guess only (compile-run hands the
 * worker on only when commander's value is the same; otherwise it is stopped).
 */
export function pythonOf(args: readonly string[]): string {
  for (let k = 1; k < args.length; k++) {
    const a = args[k]!;
    if (a === '--') break;
    if (a === '--python' && k + 1 < args.length) return args[k + 1]!;
    if (a.startsWith('--python=')) return a.slice('--python='.length);
  }
  return 'python3';
}
