/** `pyfloppy analyze`: the action (loaded when the command runs) and its text output. */
import { type Command } from 'commander';
import { analyze } from '../analyze.js';
import { PyfloppyError } from '../errors.js';
import { PYTHON3_LIBS } from '../strategies/catalog.js';
import { renderAnalyzeHtml } from '../report/analyze-html.js';
import { renderAnalyze } from '../report/analyze-text.js';
import { outputWidth } from '../report/table.js';
import { writeOutput } from './output.js';
import type { Io } from './main.js';
import { scanProgress, warnUnreadable } from './progress.js';
import type { AnalyzeFlags } from './analyze.js';

export async function runAnalyze(paths: string[], flags: AnalyzeFlags, cmd: Command, io: Io): Promise<void> {
  if (flags.json === true && cmd.getOptionValueSource('format') === 'cli' && flags.format !== 'json')
    throw new PyfloppyError('EUSAGE', `--json and --format ${flags.format} ask for two formats`, {
      hint: 'give one of them',
    });
  const progress = scanProgress(io.stderr);
  let report: Awaited<ReturnType<typeof analyze>>;
  try {
    const subset =
      flags.baselineSubset === 'python3-libs'
        ? {
            ...PYTHON3_LIBS,
            excludeModules: [...PYTHON3_LIBS.excludeModules, ...(flags.baselineExclude ?? [])],
          }
        : flags.baselineExclude !== undefined || flags.baselineNoTests === true
          ? { excludeModules: flags.baselineExclude ?? [], excludeTests: flags.baselineNoTests === true }
          : undefined;
    report = await analyze({
      paths,
      strategies: flags.strategies,
      ...(subset === undefined ? {} : { baselineSubset: subset }),
      ...(flags.python === undefined ? {} : { python: flags.python }),
      ...(flags.platform === undefined ? {} : { platform: flags.platform }),
      onProgress: (n, b) => progress.update(n, b),
      onPhase: (p) => progress.phase(p),
    });
  } finally {
    progress.done();
  }
  const format = flags.json ? 'json' : flags.format;
  const text =
    format === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : format === 'html'
        ? renderAnalyzeHtml(report, { top: flags.top })
        : renderAnalyze(report, format, {
            top: flags.top,
            size: flags.apparent === true || report.image !== undefined ? 'apparent' : 'allocated',
            width: flags.output === undefined ? outputWidth(io.stdout) : 100,
          });
  if (flags.output === undefined) io.stdout.write(text);
  else {
    writeOutput(flags.output, text, 'report.html');
    io.stderr.write(`pyfloppy: wrote ${flags.output}\n`);
  }
  warnUnreadable(io, report.problems);
}
