/** `pyfloppy split`: argument parsing, output and the written file lists; the work is the library's split(). */
import fs from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
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
  type SplitPolicy,
  type SplitReport,
  split,
} from '../split/split.js';
import { textTable } from '../report/table.js';
import type { Io, RunState } from './main.js';
import { scanProgress } from './progress.js';

interface SplitFlags {
  policy?: SplitPolicy;
  format: 'rpm' | 'list' | 'json';
  prefix?: string;
  name?: string;
  outputDir?: string;
  check?: string;
}

export function registerSplit(program: Command, io: Io, state: RunState): void {
  program
    .command('split')
    .summary(
      'file lists of sub-packages (bytecode cache, optimized levels, tests, sources) with %dir and %ghost',
    )
    .description(
      [
        'Split a Python tree into the file lists of sub-packages, as a distribution packages it (seed 001,',
        'Solution 5, Problem 5.3), and check that the lists are sound. Nothing in the tree is changed.',
        '',
        "Policies (NAME: --name, default the tree's basename):",
        '  bytecode   NAME owns everything but caches, with %dir for each __pycache__ and %ghost for every',
        '             cache; NAME-bytecode-cache (level 0), NAME-bytecode-cache-opt-1, NAME-bytecode-cache-opt-2',
        '  optimized  NAME owns sources, data and level-0 caches, %ghost for levels 1 and 2;',
        '             NAME-bytecode-cache-opt-1, NAME-bytecode-cache-opt-2',
        '  tests      NAME owns everything but test code; NAME-tests the test, tests and idle_test packages',
        '  sources    for sourceless layouts: NAME-sources owns the __pysources__ directories and the .py files',
        '             that have a legacy .pyc beside them; NAME the rest',
        '',
        'A directory belongs to the section whose files alone live in it; one shared by several sections (or',
        'holding a %ghost) to NAME. Symlinks are files. Paths are the installed paths: --prefix joined with the',
        "path in the tree, written as rpm's %files parser reads them back (quoted, %, globs escaped); a name rpm",
        'cannot take is reported and left as a comment line.',
        '',
        'The check, always run: (a) disjoint: no path owned by two sections; (b) cover: every file and directory',
        'of the tree owned by exactly one section; (c) subset: NAME owns and ghosts only paths of the tree, and',
        'every %ghost of NAME is owned by another section (NAME plus all sub-packages give exactly the tree).',
      ].join('\n'),
    )
    .argument('<path>', 'the tree (one directory)')
    .addOption(new Option('--policy <policy>', 'how to split').choices(SPLIT_POLICIES))
    .addOption(
      new Option('--format <format>', 'rpm: %files lists; list: plain path lists; json: the report')
        .choices(['rpm', 'list', 'json'])
        .default('rpm'),
    )
    .option('--prefix <dir>', 'the path the tree will have on the target system (default: PATH itself)')
    .option('--name <name>', "the main package's name (default: the tree's basename)")
    .option(
      '--output-dir <dir>',
      'write one file per section there (NAME.files, NAME.list, or NAME.split.json) and list what was written',
    )
    .option('--check <file>', 're-check a (possibly edited) pyfloppy.split/1 JSON file against the tree')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  pyfloppy split %{buildroot}/usr/lib64/python3.12 --policy bytecode --prefix /usr/lib64/python3.12 \\',
        '      --name python3-libs --output-dir %{_builddir}        # then: %files -n python3-libs -f python3-libs.files',
        '  pyfloppy split ./venv/lib/python3.12/site-packages --policy tests --format list',
        '  pyfloppy split /usr/lib/python3.12 --policy optimized --format json > split.json',
        '  pyfloppy split /usr/lib/python3.12 --check split.json',
        '',
        'With --check and no --format, only the sections and the verdict are printed (the lists are in FILE).',
        '',
        'Exit status: 0 the split is sound, 1 the check found violations (each is named on stderr) or could',
        'not be complete (an unreadable directory: its files cannot be shown to be covered), 2 usage or',
        'environment error (missing PATH, unknown policy, --output-dir missing or not writable, bad --check file).',
      ].join('\n'),
    )
    .action(async (treePath: string, flags: SplitFlags, cmd: Command) => {
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
    });
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
