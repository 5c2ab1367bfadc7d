/** `pyfloppy compile`: the action (loaded when the command runs) and its text output. */
import { InvalidArgumentError } from 'commander';
import { type CompileOptions, type CompileReport, compile } from '../compile/compile.js';
import { formatCount, plural } from '../report/format.js';
import { countProgress } from './progress.js';
import type { Io, RunState } from './main.js';
import type { CompileFlags } from './compile.js';

export async function runCompile(
  paths: string[],
  flags: CompileFlags,
  io: Io,
  state: RunState,
): Promise<void> {
  let exclude: RegExp | undefined;
  try {
    exclude = flags.exclude === undefined ? undefined : new RegExp(flags.exclude);
  } catch (e) {
    throw new InvalidArgumentError(`-x: ${(e as Error).message}`);
  }
  const report = await compileShowingProgress(io, {
    paths,
    ...(state.compileWorker === undefined ? {} : { worker: state.compileWorker }),
    levels: flags.opt ?? [0],
    force: flags.force === true,
    dedup: flags.dedup,
    ...(flags.python === undefined ? {} : { python: flags.python }),
    ...(flags.jobs === undefined ? {} : { jobs: flags.jobs }),
    ...(exclude === undefined ? {} : { exclude }),
    ...(flags.limitSlDest === undefined ? {} : { limitSymlinks: flags.limitSlDest }),
    ...(flags.ddir === undefined ? {} : { ddir: flags.ddir }),
    ...(flags.stripdir === undefined ? {} : { stripdir: flags.stripdir }),
    ...(flags.prependdir === undefined ? {} : { prependdir: flags.prependdir }),
    ...(flags.maxlevels === undefined ? {} : { maxlevels: flags.maxlevels }),
    ...(flags.invalidationMode === undefined ? {} : { invalidationMode: flags.invalidationMode }),
  });
  if (flags.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(renderCompile(report, flags.quiet === true));
  if (report.errors.length > 0) state.exitCode = 1;
}

/** compile() with its progress line on a terminal: sources compiled of the total. */
async function compileShowingProgress(io: Io, options: CompileOptions): Promise<CompileReport> {
  const progress = countProgress('compiling', io.stderr);
  try {
    return await compile({ ...options, onProgress: (done, total) => progress.update(done, total) });
  } finally {
    progress.done();
  }
}

export function renderCompile(r: CompileReport, quiet: boolean): string {
  const out: string[] = [];
  for (const e of r.errors) out.push(`*** Error compiling '${e.path}':`, e.message);
  if (!quiet) {
    for (const s of r.skipped) out.push(`skipped ${s.path}: ${s.reason}`);
    if (r.leftoversRemoved.length > 0)
      out.push(`removed ${plural(r.leftoversRemoved.length, 'temporary file')} left by an interrupted run`);
    out.push(
      `pyfloppy compile: ${plural(r.sources, 'source')} with ${r.interpreter.cacheTag} at levels ${r.levels.join(', ')}: ${formatCount(r.compiled)} compiled, ${formatCount(r.upToDate)} up to date, ${formatCount(r.errors.length)} failed; ${plural(r.written, 'cache')} written, ${formatCount(r.linked)} linked`,
    );
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
