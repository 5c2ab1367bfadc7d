/** `pyfloppy fit`: the action (loaded when the command runs) and its text output. */
import { fit, type FitCandidate, type FitReport } from '../fit/fit.js';
import { formatBytes, formatCount } from '../report/format.js';
import { CONSTRAINTS } from '../strategies/catalog.js';
import type { FitFlags } from './fit.js';
import type { Io, RunState } from './main.js';
import { writeOutput } from './output.js';
import { planFlags } from './plan-run.js';
import { scanProgress } from './progress.js';

export async function runFit(target: string, flags: FitFlags, io: Io, state: RunState): Promise<void> {
  const progress = scanProgress(io.stderr);
  let report: FitReport;
  try {
    report = await fit({
      path: target,
      budget: flags.budget,
      compressed: flags.compressed === true,
      plan: flags.output !== undefined,
      ...planFlags(flags),
      onProgress: (n, b) => progress.update(n, b),
    });
  } finally {
    progress.done();
  }
  if (flags.output !== undefined && report.plan !== null)
    writeOutput(flags.output, `${JSON.stringify(report.plan, null, 1)}\n`, 'plan.json');
  io.stdout.write(
    flags.json === true ? `${JSON.stringify(report, null, 1)}\n` : renderFit(report, flags.output),
  );
  if (!report.fits) state.exitCode = 1;
}

/** The text report: the budget, the verdict, what the chosen set risks, and what to run next. */
export function renderFit(r: FitReport, output: string | undefined): string {
  const measure = r.measure === 'compressed' ? 'zipped' : 'apparent';
  const lines = [
    `pyfloppy fit: ${r.root}: ${formatBytes(r.size)} ${measure}, budget ${formatBytes(r.budget)} (${formatCount(r.budget)} bytes)`,
    ...verdict(r),
    `${formatCount(r.candidates)} combinable sets of strategies, ${formatCount(r.measured)} measured`,
  ];
  for (const m of r.missedByPlan)
    lines.push(`planned on the tree, ${m.strategies.join(',')} left ${formatBytes(m.size)}: over the budget`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push(...next(r, output));
  return `${lines.join('\n')}\n`;
}

function verdict(r: FitReport): string[] {
  const c = r.chosen;
  if (c === null)
    return [
      `no set of strategies fits: the closest, ${named(r.closest)}, leaves ${formatBytes(r.closest.size)}, ${formatBytes(r.over)} over the budget`,
      `  it risks ${risks(r.closest)}`,
    ];
  if (c.strategies.length === 0) return ['fits already: no strategy is needed'];
  return [
    `fits with ${named(c)}: ${formatBytes(c.size)} after, ${formatBytes(r.budget - c.size)} under the budget`,
    `  it risks ${risks(c)}`,
  ];
}

const named = (c: FitCandidate): string => (c.strategies.length === 0 ? 'nothing' : c.strategies.join(','));

function risks(c: FitCandidate): string {
  if (c.constraints.length === 0) return 'no constraint of seed 001';
  return c.constraints.map((n) => `(${n}) ${CONSTRAINTS[n] ?? '?'}`).join(', ');
}

function next(r: FitReport, output: string | undefined): string[] {
  if (r.chosen !== null && r.chosen.strategies.length === 0 && output !== undefined)
    return [`nothing to plan: ${output} was not written`];
  if (r.chosen === null || r.chosen.strategies.length === 0) return [];
  if (r.target !== 'directory')
    return [
      `to carry it out: unpack the ${r.target} into DIR, then pyfloppy plan ${r.chosen.strategies.join(',')} DIR -o plan.json, apply it, and pack DIR again`,
    ];
  if (output === undefined || r.plan === null)
    return [
      `to plan it: pyfloppy plan ${r.chosen.strategies.join(',')} ${r.root} -o plan.json (or fit -o plan.json)`,
    ];
  return [`plan written to ${output}; review it, then: pyfloppy apply ${output}`];
}
