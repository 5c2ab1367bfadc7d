/** `pyfloppy split`: the action (loaded when the command runs) and its text output. */
import fs from 'node:fs';
import path from 'node:path';
import { type Command } from 'commander';
import { errnoCode, PyfloppyError } from '../errors.js';
import { writeFileAtomic } from '../fsops/write.js';
import { formatBytes, formatCount, plural } from '../report/format.js';
import {
  renderList,
  renderListSection,
  renderRpm,
  renderRpmSection,
  SPLIT_POLICIES,
  SPLIT_RULES,
  type SplitReport,
  split,
} from '../split/split.js';
import { textTable } from '../report/table.js';
import type { Io, RunState } from './main.js';
import { scanProgress } from './progress.js';
import type { SplitFlags } from './split.js';

export async function runSplit(
  treePath: string,
  flags: SplitFlags,
  cmd: Command,
  io: Io,
  state: RunState,
): Promise<void> {
  if (flags.policy === undefined && flags.check === undefined) {
    throw new PyfloppyError('EUSAGE', '--policy is required', {
      hint: `--policy ${SPLIT_POLICIES.join('|')} (or --check FILE to re-check a split)`,
    });
  }
  if (flags.outputDir !== undefined) checkOutputDir(flags.outputDir);
  const progress = scanProgress(io.stderr);
  let report: SplitReport;
  try {
    report = await split({
      path: treePath,
      ...(flags.policy === undefined ? {} : { policy: flags.policy }),
      ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
      ...(flags.name === undefined ? {} : { name: flags.name }),
      ...(flags.check === undefined ? {} : { checkFile: flags.check }),
      onProgress: (n, b) => progress.update(n, b),
    });
  } finally {
    progress.done();
  }
  if (
    flags.outputDir === undefined &&
    flags.check !== undefined &&
    cmd.getOptionValueSource('format') !== 'cli'
  ) {
    // Why: re-checking a split is a question with a verdict; the lists it checked are in the file already.
    io.stdout.write(renderSplitSummary(report));
  } else if (flags.outputDir === undefined) {
    io.stdout.write(
      flags.format === 'json'
        ? `${JSON.stringify(report, null, 2)}\n`
        : flags.format === 'list'
          ? renderList(report)
          : renderRpm(report),
    );
  } else {
    const written: string[] = [];
    const put = (file: string, text: string): void => {
      const dest = path.join(flags.outputDir!, file);
      writeFileAtomic(dest, text);
      written.push(dest);
    };
    if (flags.format === 'json') put(`${report.name}.split.json`, `${JSON.stringify(report, null, 2)}\n`);
    for (const s of flags.format === 'json' ? [] : report.sections) {
      if (flags.format === 'rpm') put(`${s.name}.files`, renderRpmSection(report, s));
      else put(`${s.name}.list`, renderListSection(s));
    }
    io.stdout.write(`${written.map((w) => `wrote ${w}\n`).join('')}\n${renderSplitSummary(report)}`);
  }
  io.stderr.write(renderDiagnostics(report));
  if (!report.check.ok || unreadable(report).length > 0) state.exitCode = 1;
}

/** --output-dir must be an existing, writable directory: said before the tree is scanned. */
function checkOutputDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw new PyfloppyError(
      errnoCode(e) === 'EACCES' ? 'EACCES' : 'ENOTFOUND',
      `--output-dir ${dir}: ${errnoCode(e) === 'ENOENT' ? 'no such directory' : (e as Error).message}`,
      { hint: 'create it first', cause: e },
    );
  }
  if (!st.isDirectory()) throw new PyfloppyError('ENOTDIR', `--output-dir ${dir}: not a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw new PyfloppyError('EACCES', `--output-dir ${dir}: not writable`, { cause: e });
  }
}

/** Paths the scan could not read: the cover check cannot hold over what was not seen. */
function unreadable(r: SplitReport): SplitReport['problems'] {
  return r.problems.filter((p) => p.code !== 'ERPMNAME');
}

/** The check's verdict in a word: ok, FAILED, or incomplete when parts of the tree were unreadable. */
function verdict(r: SplitReport): string {
  if (!r.check.ok) return 'FAILED';
  const u = unreadable(r).length;
  return u === 0
    ? 'ok'
    : `incomplete: ${plural(u, 'path')} could not be read, so "covers every file" is unproven`;
}

/** Sections with their counts and sizes, and the check's verdict, for people. */
export function renderSplitSummary(r: SplitReport): string {
  const out: string[] = [];
  out.push(
    `pyfloppy split: ${r.root} (installed as ${r.prefix}), policy ${r.policy}${r.checkedFile === null ? '' : `, as in ${r.checkedFile}`}: ${plural(r.sections.length, 'section')}`,
    '',
    textTable(
      [
        ['section', 'files', 'dirs', 'ghosts', 'size'],
        ...r.sections.map((s) => [
          s.name,
          formatCount(s.counts.files),
          formatCount(s.counts.dirs),
          formatCount(s.counts.ghosts),
          formatBytes(s.allocatedBytes),
        ]),
      ],
      ['l', 'r', 'r', 'r', 'r'],
    ),
    '',
    `check: ${verdict(r)} (${SPLIT_RULES.map((k) => `${k} ${r.check.counts[k] === 0 ? 'ok' : `${formatCount(r.check.counts[k])} violations`}`).join(', ')})`,
  );
  return `${out.join('\n')}\n`;
}

/** Warnings, problems and every violation, for stderr. */
export function renderDiagnostics(r: SplitReport): string {
  const out: string[] = [];
  for (const w of r.warnings) out.push(`pyfloppy: warning: ${w}`);
  for (const p of r.problems) out.push(`pyfloppy: problem: ${p.path}: ${p.message} (${p.code})`);
  if (r.check.ok && unreadable(r).length > 0) out.push(`pyfloppy: check ${verdict(r)}`);
  if (!r.check.ok) {
    out.push(
      `pyfloppy: check failed: ${SPLIT_RULES.map((k) => `${formatCount(r.check.counts[k])} ${k}`).join(', ')}`,
    );
    for (const v of r.check.violations) out.push(`  ${v.rule}: ${v.path}: ${v.message}`);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
