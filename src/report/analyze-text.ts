/**
 * Text and markdown renderings of the analyze report: the seed document's tables (totals by file type; the
 * biggest modules with a column per file type), bytecode identity, hardlinks and problems. Pure: report in,
 * string out.
 */
import { markdownTable } from 'markdown-table';
import { KIND_HEADERS, KIND_NAMES, type KindName } from '../model/kinds.js';
import type { AnalyzeReport, ModuleReport } from './analyze-report.js';
import { formatBytes, formatCount, formatPercent } from './format.js';
import { type Align, textTable, wrapWords } from './table.js';

export interface RenderOptions {
  /** Rows of the module table. */
  top: number;
  /** Which size the tables show first: allocated (what du counts, the default) or apparent. */
  size: 'allocated' | 'apparent';
  /** Columns the text tables fit in (default 100); markdown is never wrapped. */
  width?: number;
}

type Style = 'text' | 'markdown';

function table(rows: string[][], align: Align[], style: Style, width: number): string {
  return style === 'text' ? textTable(rows, align, width) : markdownTable(rows, { align });
}

/** A paragraph: one line in markdown (the reader's renderer wraps it), wrapped to the width in text. */
function prose(text: string, style: Style, width: number, indent = ''): string[] {
  if (style === 'markdown') return [text];
  return wrapWords(text, width - indent.length).map((l, n) => (n === 0 ? l : `${indent}${l}`));
}

function heading(title: string, style: Style): string {
  return style === 'markdown' ? `### ${title}` : `${title}\n${'='.repeat(title.length)}`;
}

const MODULE_COLUMNS: Array<{ header: string; kinds: KindName[] }> = [
  { header: '.py', kinds: ['source'] },
  { header: '.pyc', kinds: ['bytecode-0'] },
  { header: '.opt-1.pyc', kinds: ['bytecode-1'] },
  { header: '.opt-2.pyc', kinds: ['bytecode-2'] },
  { header: '.so', kinds: ['extension'] },
  { header: 'other', kinds: ['legacy-bytecode', 'metadata', 'data', 'directory', 'symlink'] },
];

export function renderAnalyze(report: AnalyzeReport, style: Style, options: RenderOptions): string {
  const key = options.size === 'apparent' ? 'apparentBytes' : 'allocatedBytes';
  const width = options.width ?? 100;
  const other = options.size === 'apparent' ? 'allocatedBytes' : 'apparentBytes';
  const sizeWord = options.size === 'apparent' ? 'apparent size' : 'disk usage (allocated, as du counts)';
  const out: string[] = [];
  const code = (s: string): string => (style === 'markdown' ? `\`${s}\`` : s);

  const interp = report.interpreter;
  const title = interp
    ? `Python ${interp.version} (${interp.implementation}${interp.cacheTag ? `, cache tag ${interp.cacheTag}` : ''}) at ${interp.executable}`
    : 'Python tree';
  out.push(style === 'markdown' ? `## pyfloppy analyze: ${title}` : `pyfloppy analyze: ${title}`, '');

  const rootRows = [['root', 'path', 'entries', 'apparent', 'disk']];
  for (const r of report.roots) {
    const inside =
      r.insideRoot === null ? '' : ` (inside ${labelOfRoot(report, r.insideRoot)}, counted here only)`;
    rootRows.push([
      r.labels.join(', '),
      code(r.realPath) + inside,
      formatCount(r.entries),
      formatBytes(r.apparentBytes),
      formatBytes(r.allocatedBytes),
    ]);
  }
  out.push(table(rootRows, ['l', 'l', 'r', 'r', 'r'], style, width), '');
  for (const s of report.skippedPaths) out.push(`(${s.label} ${code(s.path)} does not exist: skipped)`);
  if (report.skippedPaths.length > 0) out.push('');

  out.push(heading(`Totals by file type, ${sizeWord}`, style), '');
  const total = report.grandTotal;
  const rows = [['file type', 'files', 'apparent', 'disk', 'share']];
  for (const k of KIND_NAMES) {
    const v = report.totals[k];
    if (v.files === 0 && v.paths === 0) continue;
    const linked = v.paths > v.files ? ` (+${formatCount(v.paths - v.files)} linked)` : '';
    rows.push([
      `${KIND_HEADERS[k]} (${k})`,
      formatCount(v.files) + linked,
      formatBytes(v.apparentBytes),
      formatBytes(v.allocatedBytes),
      formatPercent(v[key], total[key]),
    ]);
  }
  rows.push([
    'total',
    formatCount(total.inodes),
    formatBytes(total.apparentBytes),
    formatBytes(total.allocatedBytes),
    '100.0%',
  ]);
  out.push(table(rows, ['l', 'r', 'r', 'r', 'r'], style, width), '');
  const h = report.hardlinkSavedBytes;
  out.push(
    h.extraPaths === 0
      ? 'Already hardlinked: nothing (no inode has two names inside the roots).'
      : `Already hardlinked: ${formatCount(h.extraPaths)} extra names of shared inodes, saving ${formatBytes(h[key])} (each inode is counted once above).`,
  );
  out.push(
    `Test code (test, tests, idle_test packages): ${formatCount(report.test.files)} files, ${formatBytes(report.test[key])} (${formatPercent(report.test[key], total[key])}).`,
    '',
  );

  const shown = report.modules.filter((m) => m.name !== '').slice(0, options.top);
  out.push(
    heading(
      `Biggest top-level modules, ${sizeWord} (${formatCount(shown.length)} of ${formatCount(report.modules.filter((m) => m.name !== '').length)})`,
      style,
    ),
    '',
  );
  const multiRoot = report.roots.length > 1;
  const mrows = [['module', ...MODULE_COLUMNS.map((c) => c.header), 'total', ...(multiRoot ? ['root'] : [])]];
  for (const m of shown) {
    mrows.push([
      moduleLabel(m, code),
      ...MODULE_COLUMNS.map((c) => cell(c.kinds.reduce((s, k) => s + m.kinds[k][key], 0))),
      formatBytes(m[key]),
      ...(multiRoot ? [labelOfRoot(report, m.root)] : []),
    ]);
  }
  out.push(table(mrows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'], style, width), '');

  const b = report.bytecode;
  out.push(heading('Bytecode identity across optimization levels', style), '');
  if (b.modules === 0) {
    out.push('No bytecode caches (__pycache__/*.pyc) in this tree.', '');
  } else {
    const tags = Object.entries(b.tags)
      .sort((x, y) => y[1] - x[1])
      .map(([tg, n]) => `${tg}: ${formatCount(n)}`)
      .join(', ');
    const irows = [
      ['', 'modules', 'share'],
      ['modules with bytecode caches', formatCount(b.modules), ''],
      [
        '  with level 0 / 1 / 2',
        `${formatCount(b.withLevel[0])} / ${formatCount(b.withLevel[1])} / ${formatCount(b.withLevel[2])}`,
        '',
      ],
      ['identical level 0 and 1', formatCount(b.identical01), formatPercent(b.identical01, b.modules)],
      ['identical level 1 and 2', formatCount(b.identical12), formatPercent(b.identical12, b.modules)],
      [
        'identical 0, 1 and 2 (in both above)',
        formatCount(b.identical012),
        formatPercent(b.identical012, b.modules),
      ],
      ['identical pairs already hardlinked', formatCount(b.alreadyLinked), ''],
    ];
    out.push(table(irows, ['l', 'r', 'r'], style, width), '');
    out.push(...prose(`Cache tags: ${tags}.`, style, width));
    out.push(
      ...prose(
        b.dedupable.pairs === 0
          ? 'Every identical pair is already hardlinked: `dedup` has nothing to do.'
          : `Hardlinking the ${b.dedupable.pairs === 1 ? '1 identical pair that is' : `${formatCount(b.dedupable.pairs)} identical pairs that are`} not yet linked (as compileall --hardlink-dupes pairs them) would free ${formatBytes(b.dedupable[key])} (${formatBytes(b.dedupable[other])} ${options.size === 'apparent' ? 'disk' : 'apparent'}).`,
        style,
        width,
      ),
      '',
    );
  }

  if (report.strategies.length > 0 && report.baseline !== null) {
    const b = report.baseline;
    const of =
      b.excludeModules.length > 0 || b.excludeTests || b.excludeSitePackages
        ? `of the baseline: the tree without ${[...b.excludeModules, ...(b.excludeTests ? ['test code'] : []), ...(b.excludeSitePackages ? ['site-packages'] : [])].join(', ')}`
        : 'of the whole tree';
    out.push(heading(`Savings of each strategy, ${sizeWord}, ${of} (${formatBytes(b[key])})`, style), '');
    // Why: in text the risks are told below the table; in the table, which constraints (a few columns).
    const brief = style === 'text';
    const srows = [
      [
        'strategy',
        'seed',
        'size after',
        'saved',
        'saved %',
        brief ? 'risks' : 'risks (constraints of seed 001)',
      ],
    ];
    for (const s of report.strategies) {
      const risks =
        s.risks.length === 0
          ? 'none'
          : brief
            ? s.risks.map((r) => `(${r.constraint})`).join(' ')
            : s.risks.map((r) => `(${r.constraint}) ${r.why}`).join('; ');
      srows.push([
        `${code(s.id)}${s.actionable ? '' : ' *'}`,
        s.seedRef,
        formatBytes(s.after[key]),
        formatBytes(s.saved[key]),
        formatPercent(s.saved[key], b[key]),
        risks,
      ]);
    }
    out.push(table(srows, ['l', 'l', 'r', 'r', 'r', 'l'], style, width), '');
    out.push(
      ...prose(
        "* needs a change in CPython; the others pyfloppy can carry out on an unmodified CPython. Constraints: (1) Python users' expectations, (2) the distribution's users' expectations, (3) packagers' expectations, (4) no larger default footprint, (5) no divergence from upstream. Compression is measured by compressing the files.",
        style,
        width,
      ),
      '',
    );
    if (brief) {
      out.push('Risks (constraints of seed 001):');
      for (const s of report.strategies.filter((x) => x.risks.length > 0))
        out.push(
          ...prose(
            `- ${s.id}: ${s.risks.map((r) => `(${r.constraint}) ${r.why}`).join('; ')}`,
            style,
            width,
            '  ',
          ),
        );
      out.push('');
    }
    const notes = report.strategies.filter((s) => s.note !== undefined);
    for (const s of notes) out.push(...prose(`- ${code(s.id)}: ${s.note}`, style, width, '  '));
    if (notes.length > 0) out.push('');
  }

  if (report.distributions.length > 0) {
    const shownD = report.distributions.slice(0, options.top);
    out.push(
      heading(
        `Biggest distributions (${formatCount(shownD.length)} of ${formatCount(report.distributions.length)})`,
        style,
      ),
      '',
    );
    const drows = [['distribution', 'version', 'files', 'size']];
    for (const d of shownD) drows.push([d.name, d.version, formatCount(d.files), formatBytes(d[key])]);
    out.push(table(drows, ['l', 'l', 'r', 'r'], style, width), '');
  }

  if (report.problems.length > 0) {
    out.push(
      heading(`Problems (${formatCount(report.problems.length)}): skipped, the rest is counted`, style),
      '',
    );
    for (const p of report.problems.slice(0, 20)) out.push(`- ${code(p.path)}: ${p.message} (${p.code})`);
    if (report.problems.length > 20)
      out.push(`- ... and ${formatCount(report.problems.length - 20)} more (see --format json)`);
    out.push('');
  }
  return out.join('\n');
}

function cell(n: number): string {
  return n === 0 ? '' : formatBytes(n);
}

function moduleLabel(m: ModuleReport, code: (s: string) => string): string {
  return m.test ? `${code(m.name)} (tests)` : code(m.name);
}

function labelOfRoot(report: AnalyzeReport, realPath: string): string {
  const r = report.roots.find((x) => x.realPath === realPath);
  return r === undefined ? realPath : r.labels[0]!;
}
