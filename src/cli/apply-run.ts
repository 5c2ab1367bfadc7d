/** `pyfloppy apply`: the action (loaded when the command runs) and its text output. */
import type { Command } from 'commander';
import { type ApplyReport, apply, commit, rollback } from '../apply/apply.js';
import { PyfloppyError } from '../errors.js';
import type { VerifyReport } from '../verify/verify.js';
import { formatBytes, formatCount, plural } from '../report/format.js';
import type { Io, RunState } from './main.js';
import { progressLine } from './progress.js';
import { describeProgress, describeRegression, regrtestOptions } from './verify-run.js';
import type { ApplyFlags } from './apply.js';

export async function runApply(
  target: string,
  flags: ApplyFlags,
  cmd: Command,
  io: Io,
  state: RunState,
): Promise<void> {
  // Why: commander turns --no-commit into commit=false and --commit into commit=true; tell them apart.
  const explicitCommit = cmd.getOptionValueSource('commit') === 'cli' && flags.commit === true;
  const noCommit = cmd.getOptionValueSource('commit') === 'cli' && flags.commit === false;
  refuseConflicts(flags, explicitCommit, noCommit);
  if (flags.rollback === true) {
    const r = await rollback(target);
    if (flags.json === true) io.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else if (!r.found)
      io.stdout.write(`pyfloppy apply --rollback: ${r.root} has no journal: nothing to undo\n`);
    else
      io.stdout.write(
        `pyfloppy apply --rollback: ${r.root}: restored ${plural(r.restored, 'operation')}${r.conflicts.length > 0 ? `; ${plural(r.conflicts.length, 'path')} in the way (journal kept): ${r.conflicts.slice(0, 5).join(', ')}` : ''}\n`,
      );
    if (r.conflicts.length > 0) state.exitCode = 1;
    return;
  }
  if (explicitCommit) {
    const r = await commit(target);
    io.stdout.write(
      r.found
        ? `pyfloppy apply --commit: ${r.root}: journal deleted\n`
        : `pyfloppy apply --commit: ${r.root} has no journal\n`,
    );
    return;
  }
  if (flags.verify === true && flags.python === undefined)
    throw new PyfloppyError('EUSAGE', '--verify needs --python EXE (the interpreter of the tree)');
  if (flags.verify !== true && flags.regrtest !== undefined)
    throw new PyfloppyError('EUSAGE', '--regrtest needs --verify (it is part of what verify runs)');
  if (flags.testsFrom !== undefined && flags.regrtest === undefined)
    throw new PyfloppyError('EUSAGE', '--tests-from needs --regrtest (it names the tests regrtest runs)');
  const regrtest = regrtestOptions(flags);
  const line = progressLine(io.stderr);
  const report = await apply({
    planFile: target,
    dryRun: flags.dryRun === true,
    commit: flags.commit !== false,
    ...(flags.verify === true
      ? {
          verify: {
            python: flags.python!,
            ...(flags.levels === undefined ? {} : { levels: flags.levels }),
            ...(flags.exclude === undefined ? {} : { exclude: flags.exclude }),
            ...(regrtest === undefined ? {} : { regrtest }),
            onProgress: (p) => line.show(describeProgress(p)),
          },
        }
      : {}),
    onVerify: (phase) => {
      line.done();
      if (io.stderr.isTTY) io.stderr.write(`verifying (${phase})...\n`);
    },
  }).finally(() => line.done());
  if (flags.json === true) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(renderApply(report));
  if (report.outcome === 'refused' || report.outcome === 'rolled-back') state.exitCode = 1;
}

/** Options that contradict each other, or that only a mode not asked for reads, are usage errors. */
function refuseConflicts(flags: ApplyFlags, explicitCommit: boolean, noCommit: boolean): void {
  const refuse = (message: string, hint?: string): never => {
    throw new PyfloppyError('EUSAGE', message, hint === undefined ? {} : { hint });
  };
  if (flags.rollback === true && explicitCommit)
    refuse('--rollback and --commit cannot be used together', 'undo with --rollback, or keep with --commit');
  const mode = flags.rollback === true ? '--rollback' : explicitCommit ? '--commit' : undefined;
  if (mode !== undefined) {
    const extra = [
      flags.dryRun === true ? '--dry-run' : undefined,
      noCommit ? '--no-commit' : undefined,
      flags.verify === true ? '--verify' : undefined,
    ].find((o) => o !== undefined);
    if (extra !== undefined) refuse(`${mode} cannot be used with ${extra}`);
  }
  if (flags.dryRun === true && noCommit)
    refuse('--dry-run cannot be used with --no-commit: a dry run changes nothing and keeps no journal');
  if (flags.verify !== true)
    for (const [given, name] of [
      [flags.levels, '--levels'],
      [flags.exclude, '--exclude'],
    ] as const)
      if (given !== undefined) refuse(`${name} needs --verify (it says what verify imports)`);
}

export function renderApply(r: ApplyReport): string {
  const out: string[] = [];
  const head = `pyfloppy apply ${r.strategies.join(',')} on ${r.root}`;
  switch (r.outcome) {
    case 'refused':
      out.push(
        `${head}: refused, nothing changed: ${plural(r.mismatches.length, 'file')} ${r.mismatches.length === 1 ? 'differs' : 'differ'} from the plan`,
      );
      for (const m of r.mismatches.slice(0, 20)) out.push(`  ${m.path}: ${m.why}`);
      if (r.mismatches.length > 20) out.push(`  ... and ${formatCount(r.mismatches.length - 20)} more`);
      out.push('make a new plan: pyfloppy plan ...');
      break;
    case 'checked':
      out.push(
        `${head} (dry run): ${r.operations === 1 ? 'the one operation matches' : `all ${plural(r.operations, 'operation')} match`} the tree; would free ${formatBytes(r.saved.allocatedBytes)}`,
      );
      break;
    case 'already-applied':
      out.push(`${head}: already applied${r.committed ? '; journal deleted' : ''}`);
      break;
    case 'rolled-back':
      out.push(
        `${head}: rolled back after ${formatCount(r.done)} of ${plural(r.operations, 'operation')}: ${r.failure ?? ''}`,
      );
      if (r.rollback !== undefined && r.rollback.conflicts.length > 0)
        out.push(
          `  not restored (something else is there now; journal kept at ${r.journal}): ${r.rollback.conflicts.join(', ')}`,
        );
      break;
    case 'applied':
      out.push(
        `${head}: ${plural(r.operations, 'operation')} done${r.resumed ? ' (an interrupted run finished)' : ''}; ${
          // Why: until the commit the journal still holds every removed and replaced file: nothing is freed yet.
          r.committed
            ? `freed ${formatBytes(r.freed.allocatedBytes)} on disk (${formatBytes(r.freed.apparentBytes)} apparent)`
            : `${formatBytes(r.toBeFreedAtCommit.allocatedBytes)} on disk (${formatBytes(r.toBeFreedAtCommit.apparentBytes)} apparent) to be freed at commit`
        }`,
      );
      out.push(
        r.committed
          ? 'committed: journal deleted'
          : `journal kept at ${r.journal}: undo with --rollback, finish with --commit`,
      );
      break;
  }
  if (r.rolledBackOther) out.push('an interrupted run of another plan was rolled back first');
  if (r.verify !== undefined) {
    const line = (name: string, v: VerifyReport) =>
      `  ${name}: ${v.levels.map((l) => `level ${l.level}: ${formatCount(l.ok)} ok, ${formatCount(l.failed.length)} failed, ${plural(l.writes.length, 'write attempt')}`).join('; ')}`;
    out.push('verify:');
    out.push(line('before', r.verify.before));
    if (r.verify.after !== undefined) out.push(line('after', r.verify.after));
    out.push(`  regressions: ${formatCount(r.verify.regressions.length)}`);
    for (const g of r.verify.regressions.slice(0, 20))
      out.push(`    level ${g.level}: ${describeRegression(g)}`);
    if (r.verify.regressions.length > 20)
      out.push(`    ... and ${formatCount(r.verify.regressions.length - 20)} more (--json lists all)`);
  }
  return `${out.join('\n')}\n`;
}
