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

/** What every section reads: the report, the style and width, the size shown first. */
interface Ctx {
  report: AnalyzeReport;
  style: Style;
  width: number;
  size: RenderOptions['size'];
  top: number;
  key: 'apparentBytes' | 'allocatedBytes';
  other: 'apparentBytes' | 'allocatedBytes';
  sizeWord: string;
  code: (s: string) => string;
}

export function renderAnalyze(report: AnalyzeReport, style: Style, options: RenderOptions): string {
  const x: Ctx = {
    report,
    style,
    width: options.width ?? 100,
    size: options.size,
    top: options.top,
    key: options.size === 'apparent' ? 'apparentBytes' : 'allocatedBytes',
    other: options.size === 'apparent' ? 'allocatedBytes' : 'apparentBytes',
    sizeWord: options.size === 'apparent' ? 'apparent size' : 'disk usage (allocated, as du counts)',
    code: (s: string): string => (style === 'markdown' ? `\`${s}\`` : s),
  };
  return [
    ...titleAndRoots(x),
    ...(x.report.package === undefined ? image(x) : packageLines(x)),
    ...totals(x),
    ...modules(x),
    ...identity(x),
    ...strategies(x),
    ...distributions(x),
    ...problems(x),
  ].join('\n');
}

function titleAndRoots({ report, style, width, code }: Ctx): string[] {
  const out: string[] = [];
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
  return out;
}

/** An image's note (apparent bytes only, interpreter not run), its Python, and the layer table. */
function image({ report, style, width, code }: Ctx): string[] {
  const im = report.image;
  if (im === undefined) return [];
  const py = im.python;
  const out = [
    ...prose(
      `Image ${code(im.path)} (${im.format}, ${im.platform}): ${im.note}. Python ${py.version ?? 'unknown'}${py.cacheTag === null ? '' : `, cache tag ${py.cacheTag}`}, from the ${py.from}.`,
      style,
      width,
    ),
    '',
    heading('Layers, apparent size', style),
    '',
  ];
  const rows = [
    ['layer', 'step', 'adds', '.py', 'caches', '.so', 'other', 'hides', 'late caches', 'never read'],
  ];
  for (const l of im.layers) {
    const a = l.added;
    const caches = a['bytecode-0'] + a['bytecode-1'] + a['bytecode-2'] + a['legacy-bytecode'];
    const total = Object.values(a).reduce((s, v) => s + v, 0);
    rows.push([
      String(l.index),
      code(l.command.length > 48 ? `${l.command.slice(0, 47)}…` : l.command),
      formatBytes(total),
      cell(a.source),
      cell(caches),
      cell(a.extension),
      cell(a.data + a.other),
      cell(l.hides.apparentBytes),
      cell(l.lateCaches.apparentBytes),
      cell(l.neverRead.apparentBytes),
    ]);
  }
  out.push(table(rows, ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'], style, width), '');
  out.push(
    ...prose(
      'hides: bytes of earlier layers this step deleted or replaced (still shipped in the image, unreachable: delete in the step that creates them instead). late caches: caches this step wrote for sources an earlier step added (compile in the step that installs the sources, or not at all). never read: caches of modules the interpreter freezes, or of another interpreter version (remove them in the step that creates them).',
      style,
      width,
    ),
    '',
  );
  if (im.notEstimated !== undefined && im.notEstimated.length > 0)
    out.push(
      ...prose(
        `Not estimated for an image (they need compressed sizes or the names inside bytecode, which the stream does not keep; analyze the unpacked root file system for them): ${im.notEstimated.map(code).join(', ')}.`,
        style,
        width,
      ),
      '',
    );
  return out;
}

/** A package's note, its size as shipped, its compressed size after each strategy, a wheel's install caches. */
function packageLines({ report, style, width, code }: Ctx): string[] {
  const p = report.package!;
  const py = report.image!.python;
  const out = [
    ...prose(
      `Package ${code(p.path)} (${p.kind}, ${p.compression === 'zip' ? 'zip members' : `${p.compression} payload`}): ${formatBytes(p.archiveBytes)} as shipped, ${formatBytes(p.memberBytes)} of files; ${p.note}. Python ${py.version ?? 'unknown'}, from the ${py.from}.`,
      style,
      width,
    ),
    '',
  ];
  if (p.compressed !== undefined) {
    const rows = [['strategy', 'saves (apparent)', 'package after (estimate)']];
    for (const s of p.compressed.strategies)
      rows.push([code(s.id), formatBytes(s.savedApparentBytes), formatBytes(s.compressedBytes)]);
    out.push(
      heading('Package size after each strategy', style),
      '',
      table(rows, ['l', 'r', 'r'], style, width),
      '',
    );
    out.push(...prose(`${p.compressed.note}.`, style, width), '');
  }
  if (p.install !== undefined) out.push(...installLines(p.install, style, width), '');
  return out;
}

function installLines(
  i: NonNullable<NonNullable<AnalyzeReport['package']>['install']>,
  style: Ctx['style'],
  width: number,
): string[] {
  if (!i.measured) return prose(`Caches installing this wheel adds: ${i.note}.`, style, width);
  const levels = i.levels.map(
    (l) => `level ${l.level}: ${formatCount(l.files)} caches, ${formatBytes(l.apparentBytes)}`,
  );
  return prose(
    `Caches installing this wheel adds (${i.python!.cacheTag}): ${levels.join('; ')}${i.uncompilable > 0 ? `; ${i.uncompilable} sources do not compile` : ''}. ${i.note}.`,
    style,
    width,
  );
}

function totals({ report, style, width, key, sizeWord }: Ctx): string[] {
  const out: string[] = [];
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
  return out;
}

function modules({ report, style, width, key, sizeWord, code, top }: Ctx): string[] {
  const out: string[] = [];
  const shown = report.modules.filter((m) => m.name !== '').slice(0, top);
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
  return out;
}

function identity({ report, style, width, key, other, size }: Ctx): string[] {
  const out: string[] = [];
  const b = report.bytecode;
  out.push(heading('Bytecode identity across optimization levels', style), '');
  if (b.modules === 0) {
    out.push('No bytecode caches (__pycache__/*.pyc) in this tree.', '');
    return out;
  }
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
        : `Hardlinking the ${b.dedupable.pairs === 1 ? '1 identical pair that is' : `${formatCount(b.dedupable.pairs)} identical pairs that are`} not yet linked (as compileall --hardlink-dupes pairs them) would free ${formatBytes(b.dedupable[key])} (${formatBytes(b.dedupable[other])} ${size === 'apparent' ? 'disk' : 'apparent'}).`,
      style,
      width,
    ),
    '',
  );
  return out;
}

function strategies(x: Ctx): string[] {
  const { report, style, width, key, sizeWord } = x;
  if (report.strategies.length === 0 || report.baseline === null) return [];
  const b = report.baseline;
  const of =
    b.excludeModules.length > 0 || b.excludeTests || b.excludeSitePackages
      ? `of the baseline: the tree without ${[...b.excludeModules, ...(b.excludeTests ? ['test code'] : []), ...(b.excludeSitePackages ? ['site-packages'] : [])].join(', ')}`
      : 'of the whole tree';
  return [
    heading(`Savings of each strategy, ${sizeWord}, ${of} (${formatBytes(b[key])})`, style),
    '',
    table(strategyRows(x, b[key]), ['l', 'l', 'r', 'r', 'r', 'l'], style, width),
    '',
    ...prose(
      "* needs a change in CPython; the others pyfloppy can carry out on an unmodified CPython. Constraints: (1) Python users' expectations, (2) the distribution's users' expectations, (3) packagers' expectations, (4) no larger default footprint, (5) no divergence from upstream. Compression is measured by compressing the files.",
      style,
      width,
    ),
    '',
    ...strategyNotes(x),
  ];
}

function strategyRows({ report, style, key, code }: Ctx, baseline: number): string[][] {
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
      formatPercent(s.saved[key], baseline),
      risks,
    ]);
  }
  return srows;
}

/** In text, the risks of each strategy (the table names only the constraints); then its notes. */
function strategyNotes({ report, style, width, code }: Ctx): string[] {
  const out: string[] = [];
  if (style === 'text') {
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
  return out;
}

function distributions({ report, style, width, key, top }: Ctx): string[] {
  if (report.distributions.length === 0) return [];
  const shownD = report.distributions.slice(0, top);
  const drows = [['distribution', 'version', 'files', 'size']];
  for (const d of shownD) drows.push([d.name, d.version, formatCount(d.files), formatBytes(d[key])]);
  return [
    heading(
      `Biggest distributions (${formatCount(shownD.length)} of ${formatCount(report.distributions.length)})`,
      style,
    ),
    '',
    table(drows, ['l', 'l', 'r', 'r'], style, width),
    '',
  ];
}

function problems({ report, style, code }: Ctx): string[] {
  if (report.problems.length === 0) return [];
  const out: string[] = [];
  out.push(
    heading(`Problems (${formatCount(report.problems.length)}): skipped, the rest is counted`, style),
    '',
  );
  for (const p of report.problems.slice(0, 20)) out.push(`- ${code(p.path)}: ${p.message} (${p.code})`);
  if (report.problems.length > 20)
    out.push(`- ... and ${formatCount(report.problems.length - 20)} more (see --format json)`);
  out.push('');
  return out;
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
