/** `pyfloppy plan`: the action (loaded when the command runs) and its text output. */
import { PyfloppyError } from '../errors.js';
import { PLANNABLE, type Plan, plan, type PlanOptions, resolveStrategies } from '../plan/plan.js';
import { formatBytes, formatCount, plural } from '../report/format.js';
import { writeOutput } from './output.js';
import type { Io, RunState } from './main.js';
import { scanProgress } from './progress.js';
import type { PlanFlags } from './plan.js';

export async function runPlan(
  strategies: string,
  target: string,
  flags: PlanFlags,
  io: Io,
  state: RunState,
): Promise<void> {
  const ids = strategyIds(strategies);
  const progress = scanProgress(io.stderr);
  let p: Plan;
  try {
    p = await plan({
      strategies: ids,
      path: target,
      ...planFlags(flags),
      onProgress: (n, b) => progress.update(n, b),
    });
  } finally {
    progress.done();
  }
  const json = `${JSON.stringify(p, null, 1)}\n`;
  const summary = flags.output !== undefined && flags.json !== true;
  if (flags.output === undefined) io.stdout.write(json);
  else {
    writeOutput(flags.output, json, 'plan.json');
    if (summary) io.stdout.write(renderPlan(p, flags.output));
    else io.stdout.write(json);
  }
  if (!summary) {
    for (const n of planNotes(p)) io.stderr.write(`pyfloppy: note: ${n}\n`);
    if (p.operations.length === 0) io.stderr.write(`pyfloppy: ${nothingToDo(p)}\n`);
  }
  if (p.operations.length === 0) state.exitCode = 1;
}

/** The options `plan` and `fit` share (cache tag, --dest, --python, --no-runtime), as the library takes them. */
export function planFlags(
  flags: Pick<PlanFlags, 'cacheTag' | 'dest' | 'python' | 'runtime'>,
): Pick<PlanOptions, 'cacheTag' | 'dest' | 'python' | 'runtime'> {
  return {
    ...(flags.cacheTag === undefined ? {} : { cacheTag: flags.cacheTag }),
    ...(flags.dest === undefined ? {} : { dest: flags.dest }),
    ...(flags.python === undefined ? {} : { python: flags.python }),
    ...(flags.runtime === false ? { runtime: false } : {}),
  };
}

/** The strategy list as given: empty ids (`''`, `,,`, `a,,b`) and ids only the estimates know are usage errors. */
export function strategyIds(list: string): string[] {
  const ids = list.split(',').map((s) => s.trim());
  const combined = [
    'drop-opt2+dedup',
    'drop-optimized+dedup',
    'drop-opt2+fallback',
    'drop-optimized+fallback',
  ];
  const hint = `plannable: ${[...PLANNABLE, ...combined, 'py-and-pyc0'].join(', ')}`;
  if (ids.every((s) => s === ''))
    throw new PyfloppyError('EUSAGE', `no strategy given ('${list}')`, { hint });
  if (ids.some((s) => s === ''))
    throw new PyfloppyError('EUSAGE', `an empty strategy id in '${list}'`, {
      hint: 'separate ids by single commas, e.g. sourceless,dedup',
    });
  const { ids: plannable, refused } = resolveStrategies(ids);
  if (plannable.length === 0)
    throw new PyfloppyError(
      'EUSAGE',
      refused.map((r) => `${r.strategy} cannot be planned (estimate only): ${r.why}`).join('; '),
      { hint },
    );
  return ids;
}

/** What the plan's summary adds to the library's notes: a strategy an earlier one left nothing to do. */
function planNotes(p: Plan): string[] {
  const out: string[] = [];
  const before = p.strategies.filter((s) => s !== 'dedup');
  if (p.strategies.includes('dedup') && p.counts.link === 0 && before.length > 0 && p.operations.length > 0)
    out.push(
      `dedup has nothing left to do after ${before.join(',')}: no two identical levels remain to link`,
    );
  return out;
}

function nothingToDo(p: Plan): string {
  return `nothing to do: the plan is empty (${p.strategies.join(',')} would change nothing in ${p.root})`;
}

export function renderPlan(p: Plan, file: string): string {
  const out: string[] = [];
  const c = p.counts;
  const ops = Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${op} ${formatCount(n)}`)
    .join(', ');
  out.push(
    p.operations.length === 0
      ? `pyfloppy plan ${p.strategies.join(',')} for ${p.root}: ${nothingToDo(p)}`
      : `pyfloppy plan ${p.strategies.join(',')} for ${p.root}: ${plural(p.operations.length, 'operation')} (${ops})`,
  );
  out.push(
    `frees ${formatBytes(p.saved.allocatedBytes)} on disk (${formatBytes(p.saved.apparentBytes)} apparent)${
      p.estimate === null ? '' : `; the estimate: ${formatBytes(p.estimate.allocatedBytes)}`
    }`,
  );
  out.push(
    `cache tag ${p.cacheTag ?? '(none)'}; levels served by shipped bytecode afterwards: ${p.shippedLevels.length === 0 ? 'none' : p.shippedLevels.join(', ')}`,
  );
  for (const r of p.refused) out.push(`not planned: ${r.strategy}: ${r.why}`);
  for (const n of planNotes(p)) out.push(`note: ${n}`);
  for (const n of p.notes.slice(0, 10)) out.push(`note: ${n}`);
  if (p.notes.length > 10) out.push(`note: ... and ${p.notes.length - 10} more in the plan`);
  out.push(
    p.operations.length === 0
      ? `written to ${file} (empty: nothing to apply)`
      : `written to ${file}; review it, then: pyfloppy apply ${file}`,
  );
  return `${out.join('\n')}\n`;
}
