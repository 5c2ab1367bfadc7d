/** `pyfloppy plan`: argument parsing and output; the work is the library's plan(). */
import type { Command } from 'commander';
import { PyfloppyError } from '../errors.js';
import { PLANNABLE, type Plan, plan, resolveStrategies } from '../plan/plan.js';
import { formatBytes, formatCount, plural } from '../report/format.js';
import { writeOutput } from './output.js';
import type { Io, RunState } from './main.js';
import { scanProgress } from './progress.js';

interface PlanFlags {
  output?: string;
  cacheTag?: string;
  dest?: string;
  json?: boolean;
}

export function registerPlan(program: Command, io: Io, state: RunState): void {
  program
    .command('plan')
    .summary('turn strategies into a reviewable JSON plan of file operations (changes nothing)')
    .description(
      [
        'Plan how to carry out strategies on one tree: an ordered list of operations (remove, link, move,',
        'write, zip, mkdir, rmdir), each with the fingerprint (dev, ino, size, mtime, ctime, SHA-256) of every file',
        'it touches and the bytes it frees. `pyfloppy apply PLAN` carries it out after re-checking them all.',
        '',
        `Plannable: ${PLANNABLE.join(', ')}; combinations: drop-opt2+dedup, drop-optimized+dedup,`,
        'py-and-pyc0, or several ids separated by commas (they compose in the order above).',
        '  strip-tests     remove test, tests and idle_test packages',
        '  zip-data        encodings and pydoc_data (sources + level-0 .pyc) into the pythonXY.zip beside a',
        '                  stdlib root (PREFIX/lib/pythonX.Y -> PREFIX/lib/pythonXY.zip, on sys.path already)',
        '  zip-stdlib      every pure-Python module of a stdlib root into that archive; left on disk: site-packages,',
        '                  lib-dynload, os.py, pydoc.py, packages holding data files, non-UTF-8 sources (all',
        '                  listed in the notes).',
        '                  zipimport runs level-0 bytecode at -O/-OO too, and checks it against source times',
        '                  written in local time: run Python in the timezone the plan was made in',
        '  drop-opt2       remove the level-2 caches (.opt-2.pyc)',
        '  drop-optimized  remove the level-1 and level-2 caches',
        '  no-bytecode     remove every cache, write __pycache__/__dont_write_bytecode__ markers (Option 1;',
        '                  CPython ignores them: verify shows the writes it still attempts)',
        '  sourceless      level-0 .pyc moved to where the source was, source and levels 1-2 removed (Minimal 2)',
        '  pysources       sourceless, with each source kept gzip-compressed in __pysources__/ (Option 2)',
        '  dedup           hardlink identical levels, the pairs compileall --hardlink-dupes links',
        '',
        'Without -o the plan (JSON) goes to stdout; with -o it is written there and a summary is printed.',
      ].join('\n'),
    )
    .argument('<strategies>', 'strategy ids, comma-separated (e.g. sourceless,dedup)')
    .argument('<path>', 'the tree (one directory)')
    .option('-o, --output <file>', 'write the plan to this file')
    .option('--cache-tag <tag>', "the cache tag to act on (default: the tree's commonest, e.g. cpython-313)")
    .option(
      '--dest <dir>',
      "the tree's path when Python runs it (a build root's usr/lib/python3.13 -> /usr/lib/python3.13): the file name bytecode moved by sourceless, pysources and the zip layouts carries, as compileall -d (default: where it is now)",
    )
    .option('--json', 'with -o, print the plan to stdout too')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  pyfloppy plan sourceless,dedup ./buildroot/usr/lib/python3.12 -o plan.json',
        '  pyfloppy plan drop-opt2+dedup /usr/lib64/python3.12 > plan.json',
        '  pyfloppy plan zip-stdlib ./image/usr/lib/python3.12 -o plan.json --json | jq .counts',
        '',
        'Exit status: 0 a plan with operations was made, 1 the plan is empty (nothing to do: said on',
        'stderr, the empty plan is still printed or written), 2 usage error (no strategy, an unknown or',
        'estimate-only one such as compress-pyc, strategies that cannot be combined), bad path.',
      ].join('\n'),
    )
    .action(async (strategies: string, target: string, flags: PlanFlags) => {
      const ids = strategyIds(strategies);
      const progress = scanProgress(io.stderr);
      let p: Plan;
      try {
        p = await plan({
          strategies: ids,
          path: target,
          ...(flags.cacheTag === undefined ? {} : { cacheTag: flags.cacheTag }),
          ...(flags.dest === undefined ? {} : { dest: flags.dest }),
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
    });
}

/** The strategy list as given: empty ids (`''`, `,,`, `a,,b`) and ids only the estimates know are usage errors. */
export function strategyIds(list: string): string[] {
  const ids = list.split(',').map((s) => s.trim());
  const hint = `plannable: ${[...PLANNABLE, 'drop-opt2+dedup', 'drop-optimized+dedup', 'py-and-pyc0'].join(', ')}`;
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
