/** `pyfloppy plan`: argument parsing and output; the work is the library's plan(). */
import type { Command } from 'commander';
import { writeFileAtomic } from '../fsops/write.js';
import { PLANNABLE, type Plan, plan } from '../plan/plan.js';
import { formatBytes, formatCount } from '../report/format.js';
import type { Io, RunState } from './main.js';
import { scanProgress } from './progress.js';

interface PlanFlags {
  output?: string;
  cacheTag?: string;
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
    .option('--json', 'with -o, print the plan to stdout too')
    .action(async (strategies: string, target: string, flags: PlanFlags) => {
      const progress = scanProgress(io.stderr);
      let p: Plan;
      try {
        p = await plan({
          strategies: strategies
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
          path: target,
          ...(flags.cacheTag === undefined ? {} : { cacheTag: flags.cacheTag }),
          onProgress: (n, b) => progress.update(n, b),
        });
      } finally {
        progress.done();
      }
      const json = `${JSON.stringify(p, null, 1)}\n`;
      if (flags.output === undefined) io.stdout.write(json);
      else {
        writeFileAtomic(flags.output, json);
        if (flags.json === true) io.stdout.write(json);
        else io.stdout.write(renderPlan(p, flags.output));
      }
      if (p.operations.length === 0) state.exitCode = 1;
    });
}

export function renderPlan(p: Plan, file: string): string {
  const out: string[] = [];
  const c = p.counts;
  out.push(
    `pyfloppy plan ${p.strategies.join(',') || '(nothing plannable)'} for ${p.root}: ${formatCount(p.operations.length)} operations (${Object.entries(
      c,
    )
      .filter(([, n]) => n > 0)
      .map(([op, n]) => `${op} ${formatCount(n)}`)
      .join(', ')})`,
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
  for (const n of p.notes.slice(0, 10)) out.push(`note: ${n}`);
  if (p.notes.length > 10) out.push(`note: ... and ${p.notes.length - 10} more in the plan`);
  out.push(`written to ${file}; review it, then: pyfloppy apply ${file}`);
  return `${out.join('\n')}\n`;
}
