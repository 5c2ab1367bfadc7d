/** `pyfloppy check`: the action (loaded when the command runs) and its text output. */
import { type CheckReport, check } from '../check/check.js';
import { FINDINGS } from '../check/findings.js';
import { formatBytes, formatCount, plural } from '../report/format.js';
import { outputWidth, textTable } from '../report/table.js';
import type { Io, RunState } from './main.js';
import { scanProgress, warnUnreadable } from './progress.js';
import type { CheckFlags } from './check.js';
import { LIST_LIMIT } from './check.js';

export async function runCheck(paths: string[], flags: CheckFlags, io: Io, state: RunState): Promise<void> {
  const progress = scanProgress(io.stderr);
  let report: CheckReport;
  try {
    report = await check({
      paths,
      ...(flags.python === undefined ? {} : { python: flags.python }),
      ...(flags.platform === undefined ? {} : { platform: flags.platform }),
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
  if (r.package !== undefined)
    out.push(`package: ${r.package.path} (${r.package.kind}, ${r.package.compression}): ${r.package.note}`);
  else if (r.image !== undefined)
    out.push(
      `image: ${r.image.path} (${r.image.format}, ${r.image.platform}, ${r.image.layers.length} layers): ${r.image.note}; [layer N] is the layer that added the file`,
    );
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
            r.image !== undefined
              ? formatBytes(s.apparentBytes)
              : s.allocatedBytes === 0
                ? '-'
                : formatBytes(s.allocatedBytes),
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
      for (const f of shown)
        out.push(
          `  ${f.layer === undefined || r.package !== undefined ? '' : `[layer ${f.layer}] `}${f.path}: ${f.message}`,
        );
      if (shown.length < of.length)
        out.push(`  ... and ${formatCount(of.length - shown.length)} more (--verbose lists all)`);
    }
  }
  if (r.ignored.length > 0) out.push('', `ignored: ${r.ignored.join(', ')}`);
  const { error, warning, info } = r.counts;
  out.push('', `result: ${plural(error, 'error')}, ${plural(warning, 'warning')}, ${plural(info, 'info')}`);
  return `${out.join('\n')}\n`;
}
