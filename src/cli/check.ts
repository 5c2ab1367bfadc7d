/** `pyfloppy check`: argument parsing and output; the work is the library's check(). */
import { type Command, InvalidArgumentError } from 'commander';
import { type CheckReport, check } from '../check/check.js';
import { FINDING_IDS, FINDINGS, type FindingId, isFindingId } from '../check/findings.js';
import { formatBytes, formatCount, plural } from '../report/format.js';
import { outputWidth, textTable } from '../report/table.js';
import type { Io, RunState } from './main.js';
import { scanProgress, warnUnreadable } from './progress.js';

interface CheckFlags {
  python?: string;
  expectPrefix?: string;
  ignore?: FindingId[];
  json?: boolean;
  verbose?: boolean;
}

/** Findings listed per id in text output unless --verbose. */
const LIST_LIMIT = 10;

function findingList(v: string, previous: FindingId[] = []): FindingId[] {
  const ids = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const id of ids) {
    if (!isFindingId(id))
      throw new InvalidArgumentError(`unknown finding '${id}' (one of: ${FINDING_IDS.join(', ')})`);
  }
  return [...previous, ...(ids as FindingId[])];
}

export function registerCheck(program: Command, io: Io, state: RunState): void {
  program
    .command('check')
    .summary(
      'lint bytecode caches as the interpreter will see them: stale, missing, orphaned, foreign, duplicated',
    )
    .description(
      [
        'Read every bytecode cache of a tree as the import system will, and report each one that makes Python',
        'try to write (stale by timestamp or hash, a missing optimization level, a wrong magic number), that is',
        'dead weight (orphans, foreign cache tags, legacy .pyc shadowed by sources, identical levels not',
        'hardlinked), or that leaks the build machine (co_filename outside the installed path).',
        '',
        "The tree's interpreter is --python when given (with no PATH, the python3 on PATH checks its own",
        'library), else inferred from the dominant cache tag; the report says which. A --python whose cache',
        "tag none of the tree's caches has (3.12 on a 3.13 tree) is refused. Nothing is written and no",
        'code of the tree is run (with an interpreter, sources without any cache are compiled, not run, to tell',
        'those that cannot compile apart).',
        '',
        'Findings:',
        ...FINDING_IDS.map(
          (id) => `  ${id.padEnd(20)}${FINDINGS[id].severity.padEnd(8)} ${FINDINGS[id].meaning}`,
        ),
      ].join('\n'),
    )
    .argument('[path...]', "directories to check (default: the interpreter's library directories)")
    .option('--python <exe>', "the tree's interpreter (default: inferred from the caches)")
    .option(
      '--expect-prefix <dir>',
      'where the (one) PATH will be installed: co_filename must point below it',
    )
    .option('--ignore <ids>', 'finding ids to leave out, comma-separated (repeatable)', findingList)
    .option('--json', 'print the report as JSON (schema pyfloppy.check/1) with every finding')
    .option('-v, --verbose', `list every finding (default: the first ${LIST_LIMIT} of each kind)`)
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        "  pyfloppy check                                        # this machine's python3",
        '  pyfloppy check /usr/lib64/python3.12 --python /usr/bin/python3.12',
        '  pyfloppy check %{buildroot}/usr/lib/python3.12 --expect-prefix /usr/lib/python3.12',
        '  pyfloppy check ./venv/lib/python3.12/site-packages --ignore unlinked-duplicate --json',
        '',
        'Exit status: 0 no error or warning (infos allowed), 1 errors or warnings found, 2 usage error, bad path',
        'or interpreter.',
      ].join('\n'),
    )
    .action(async (paths: string[], flags: CheckFlags) => {
      const progress = scanProgress(io.stderr);
      let report: CheckReport;
      try {
        report = await check({
          paths,
          ...(flags.python === undefined ? {} : { python: flags.python }),
          ...(flags.expectPrefix === undefined ? {} : { expectPrefix: flags.expectPrefix }),
          ...(flags.ignore === undefined ? {} : { ignore: flags.ignore }),
          onProgress: (n, b) => progress.update(n, b),
          onPhase: (p) => progress.phase(p),
        });
      } finally {
        progress.done();
      }
      io.stdout.write(
        flags.json
          ? `${JSON.stringify(report, null, 2)}\n`
          : renderCheck(report, flags.verbose === true, outputWidth(io.stdout)),
      );
      warnUnreadable(io, report.problems);
      if (report.counts.error + report.counts.warning > 0) state.exitCode = 1;
    });
}

export function renderCheck(r: CheckReport, all: boolean, width = 100): string {
  const out: string[] = [];
  const i = r.interpreter;
  const who =
    i.cacheTag === null
      ? 'unknown (no cache tag found)'
      : `${i.cacheTag}${i.version === null ? '' : ` (Python ${i.version}${i.magic === null ? '' : `, magic ${i.magic}`})`}`;
  out.push(
    `pyfloppy check: ${plural(r.files.caches, 'cache')} (${formatCount(r.files.inspected)} distinct read), ${plural(r.files.sources, 'source')} under ${r.roots.map((x) => x.path).join(', ')}`,
  );
  out.push(`interpreter: ${who}; ${i.evidence}`);
  if (r.files.symlinkedSources > 0) {
    out.push(
      `not compared: ${formatCount(r.files.symlinkedSources)} caches whose source is a symlink (never followed)`,
    );
  }
  out.push('');
  if (r.summary.length === 0) out.push('no findings');
  else {
    out.push(
      textTable(
        [
          ['finding', 'severity', 'files', 'bytes', 'meaning'],
          ...r.summary.map((s) => [
            s.id,
            s.severity,
            formatCount(s.count),
            s.allocatedBytes === 0 ? '-' : formatBytes(s.allocatedBytes),
            FINDINGS[s.id].meaning,
          ]),
        ],
        ['l', 'l', 'r', 'r', 'l'],
        width,
      ),
    );
    for (const s of r.summary) {
      const of = r.findings.filter((f) => f.id === s.id);
      const shown = all ? of : of.slice(0, LIST_LIMIT);
      out.push('', `${s.id} (${s.severity}):`);
      for (const f of shown) out.push(`  ${f.path}: ${f.message}`);
      if (shown.length < of.length)
        out.push(`  ... and ${formatCount(of.length - shown.length)} more (--verbose lists all)`);
    }
  }
  if (r.ignored.length > 0) out.push('', `ignored: ${r.ignored.join(', ')}`);
  const { error, warning, info } = r.counts;
  out.push('', `result: ${plural(error, 'error')}, ${plural(warning, 'warning')}, ${plural(info, 'info')}`);
  return `${out.join('\n')}\n`;
}
