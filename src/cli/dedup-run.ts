/** `pyfloppy dedup`: the action (loaded when the command runs) and its text output. */
import { type DedupReport, dedup } from '../dedup/dedup.js';
import { PyfloppyError } from '../errors.js';
import { formatBytes, formatCount, plural } from '../report/format.js';
import type { Io, RunState } from './main.js';
import { scanProgress, warnUnreadable } from './progress.js';
import type { DedupFlags } from './dedup.js';

export async function runDedup(paths: string[], flags: DedupFlags, io: Io, state: RunState): Promise<void> {
  const progress = scanProgress(io.stderr);
  let report: DedupReport;
  try {
    report = await dedup({
      paths,
      all: flags.all === true,
      dryRun: flags.dryRun === true,
      onProgress: (n, b) => progress.update(n, b),
    });
  } finally {
    progress.done();
  }
  refuseReadOnly(paths, report);
  if (flags.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(renderDedup(report, flags.verbose === true || report.dryRun));
  const errors = report.skipped.filter((s) => s.reason !== 'metadata').length;
  warnUnreadable(io, report.problems);
  if (errors > 0) state.exitCode = 1;
}

/**
 * A tree on a read-only mount is one environment error (exit 2), not a finding per pair: when nothing was
 * linked and every pair was refused with EROFS, say it once.
 */
function refuseReadOnly(paths: string[], r: DedupReport): void {
  if (r.dryRun || r.linked.length > 0 || r.skipped.length === 0) return;
  if (!r.skipped.every((s) => s.reason === 'EROFS')) return;
  throw new PyfloppyError(
    'EROFS',
    `${paths.join(', ')}: read-only file system: none of ${plural(r.skipped.length, 'pair')} could be linked (EROFS)`,
    { hint: 'the file system is mounted read-only: remount it read-write, or work on a copy' },
  );
}

export function renderDedup(r: DedupReport, list: boolean): string {
  const out: string[] = [];
  const verb = r.dryRun ? 'would link' : 'linked';
  const byRule = (rule: string) => r.linked.filter((p) => p.rule === rule).length;
  const rules = [
    `${formatCount(byRule('bytecode'))} bytecode`,
    ...(r.all ? [`${formatCount(byRule('identical'))} identical files`] : []),
  ];
  out.push(
    `pyfloppy dedup${r.dryRun ? ' (dry run: nothing changed)' : ''}: ${verb} ${plural(r.saved.pairs, 'pair')} (${rules.join(', ')}), ${r.dryRun ? 'would free' : 'freed'} ${formatBytes(r.saved.allocatedBytes)} on disk (${formatBytes(r.saved.apparentBytes)} apparent)`,
  );
  out.push(`already linked: ${plural(r.alreadyLinked, 'pair')}`);
  const withDiff = r.linked.filter((p) => p.metadataDiffers.length > 0);
  if (withDiff.length > 0) {
    const count = (k: string) => withDiff.filter((p) => (p.metadataDiffers as string[]).includes(k)).length;
    out.push(
      `${verb} although metadata differ (the survivor's is kept): ${plural(withDiff.length, 'pair')} (mode ${count('mode')}, owner ${count('owner')}, mtime ${count('mtime')})`,
    );
  }
  if (r.leftoversRemoved.length > 0) {
    out.push(`removed ${plural(r.leftoversRemoved.length, 'temporary name')} left by an interrupted run`);
  }
  if (r.namedOutside.count > 0) {
    out.push(`left alone: ${plural(r.namedOutside.count, 'file')}: ${r.namedOutside.reason}`);
    if (list) for (const p of r.namedOutside.paths) out.push(`  ${p}`);
  }
  if (list && r.linked.length > 0) {
    out.push('', r.dryRun ? 'would link (target => survivor):' : 'linked (target => survivor):');
    for (const p of r.linked) {
      const diff = p.metadataDiffers.length > 0 ? ` [${p.metadataDiffers.join(', ')} differ]` : '';
      out.push(`  ${p.target} => ${p.survivor}${diff}`);
    }
  }
  if (r.skipped.length > 0) {
    out.push('', `skipped ${plural(r.skipped.length, 'pair')}:`);
    for (const s of r.skipped) out.push(`  ${s.target} => ${s.survivor}: ${s.message} (${s.reason})`);
  }
  return `${out.join('\n')}\n`;
}
