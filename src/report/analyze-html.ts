/**
 * The analyze report as one self-contained HTML page: inline CSS and inline SVG, no script, no font, no
 * network. A treemap of the tree by top-level module coloured by file type (layout by d3-hierarchy's
 * squarified treemap), bars of bytes by file type, bars of savings per strategy with the risks beside each,
 * the tables (modules and distributions, --top rows each), the strategies' notes and the unreadable paths.
 * Pure: report in, string out.
 */
import { hierarchy, treemap, treemapSquarify } from 'd3-hierarchy';
import { KIND_HEADERS, KIND_NAMES, type KindName } from '../model/kinds.js';
import type { AnalyzeReport } from './analyze-report.js';
import { formatBytes, formatCount, formatPercent } from './format.js';

/** Okabe-Ito based, distinguishable with the common colour-vision deficiencies. */
export const KIND_COLORS: Record<KindName, string> = {
  source: '#0072B2',
  'bytecode-0': '#E69F00',
  'bytecode-1': '#F2B84B',
  'bytecode-2': '#F8D998',
  'legacy-bytecode': '#CC79A7',
  extension: '#009E73',
  metadata: '#8C8C8C',
  data: '#56B4E9',
  directory: '#C8C8C8',
  symlink: '#404040',
};

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Node {
  name: string;
  kind?: KindName;
  value?: number;
  children?: Node[];
}

const TREEMAP_MODULES = 48;

function treemapSvg(report: AnalyzeReport, width: number, height: number): string {
  const modules = report.modules.filter((m) => m.allocatedBytes > 0);
  const shown = modules.slice(0, TREEMAP_MODULES);
  const rest = modules.slice(TREEMAP_MODULES);
  const kindsOf = (kinds: Record<KindName, { allocatedBytes: number }>): Node[] =>
    KIND_NAMES.filter((k) => kinds[k].allocatedBytes > 0).map((k) => ({
      name: k,
      kind: k,
      value: kinds[k].allocatedBytes,
    }));
  const children: Node[] = shown.map((m) => ({
    name: m.name === '' ? '(directories)' : m.name,
    children: kindsOf(m.kinds),
  }));
  if (rest.length > 0) {
    const sum = Object.fromEntries(KIND_NAMES.map((k) => [k, { allocatedBytes: 0 }])) as Record<
      KindName,
      { allocatedBytes: number }
    >;
    for (const m of rest) for (const k of KIND_NAMES) sum[k].allocatedBytes += m.kinds[k].allocatedBytes;
    children.push({ name: `${formatCount(rest.length)} other modules`, children: kindsOf(sum) });
  }
  const root = hierarchy<Node>({ name: 'root', children })
    .sum((d) => d.value ?? 0)
    .sort((a, b) => (b.value ?? 0) - (a.value ?? 0));
  const laid = treemap<Node>()
    .tile(treemapSquarify)
    .size([width, height])
    .paddingOuter(2)
    .paddingTop(15)
    .paddingInner(1)(root);
  const parts: string[] = [];
  for (const m of laid.children ?? []) {
    const w = m.x1 - m.x0;
    const h = m.y1 - m.y0;
    parts.push(
      `<g><rect class="mod" x="${m.x0.toFixed(1)}" y="${m.y0.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}"><title>${esc(m.data.name)}: ${formatBytes(m.value ?? 0)}</title></rect>`,
    );
    for (const leaf of m.children ?? []) {
      const k = leaf.data.kind!;
      parts.push(
        `<rect x="${leaf.x0.toFixed(1)}" y="${leaf.y0.toFixed(1)}" width="${(leaf.x1 - leaf.x0).toFixed(1)}" height="${(leaf.y1 - leaf.y0).toFixed(1)}" fill="${KIND_COLORS[k]}"><title>${esc(m.data.name)} ${esc(KIND_HEADERS[k])}: ${formatBytes(leaf.value ?? 0)}</title></rect>`,
      );
    }
    if (w > 38) {
      const chars = Math.floor((w - 6) / 6.2);
      const label =
        m.data.name.length > chars ? `${m.data.name.slice(0, Math.max(1, chars - 1))}…` : m.data.name;
      parts.push(`<text x="${(m.x0 + 3).toFixed(1)}" y="${(m.y0 + 11).toFixed(1)}">${esc(label)}</text>`);
    }
    parts.push('</g>');
  }
  return `<svg class="treemap" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Treemap of the tree by top-level module, coloured by file type">${parts.join('')}</svg>`;
}

function legend(): string {
  return `<ul class="legend">${KIND_NAMES.map((k) => `<li><span class="sw" style="background:${KIND_COLORS[k]}"></span>${esc(KIND_HEADERS[k])}</li>`).join('')}</ul>`;
}

function bar(fraction: number, color: string): string {
  const pct = Math.max(0, Math.min(1, fraction)) * 100;
  return `<div class="bar"><div style="width:${pct.toFixed(2)}%;background:${color}"></div></div>`;
}

export interface HtmlOptions {
  /** Rows of the module and distribution tables (analyze --top; default 20, as the text report). */
  top?: number;
}

/** Distributions (name, version, files, size), the first `top`. */
function distributionsSection(report: AnalyzeReport, top: number): string {
  if (report.distributions.length === 0) return '';
  const shown = report.distributions.slice(0, top);
  const rows = shown
    .map(
      (d) =>
        `<tr><td><code>${esc(d.name)}</code></td><td>${esc(d.version)}</td><td class="num">${formatCount(d.files)}</td><td class="num">${formatBytes(d.allocatedBytes)}</td></tr>`,
    )
    .join('');
  return `<section class="card wide"><h2>Biggest distributions <span class="dim">(${formatCount(shown.length)} of ${formatCount(report.distributions.length)})</span></h2><table><thead><tr><th>distribution</th><th>version</th><th class="num">files</th><th class="num">size</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

/** Unreadable paths: skipped, the rest counted (the first 50; the JSON report lists all). */
function problemsSection(report: AnalyzeReport): string {
  if (report.problems.length === 0) return '';
  const items = report.problems
    .slice(0, 50)
    .map((p) => `<li><code>${esc(p.path)}</code>: ${esc(p.message)} (${esc(p.code)})</li>`)
    .join('');
  const more =
    report.problems.length > 50
      ? `<li class="dim">... and ${formatCount(report.problems.length - 50)} more (see --format json)</li>`
      : '';
  return `<section class="card wide problems"><h2>Problems <span class="dim">(${formatCount(report.problems.length)}): skipped, the rest is counted</span></h2><ul>${items}${more}</ul></section>`;
}

export function renderAnalyzeHtml(given: AnalyzeReport, options: HtmlOptions = {}): string {
  // An image has no blocks: its page shows apparent bytes wherever the page shows disk usage, and says so.
  const report = given.image === undefined ? given : apparentView(given);
  const top = options.top ?? 20;
  const total = report.grandTotal;
  const interp = report.interpreter;
  const title = interp
    ? `Python ${interp.version}${interp.cacheTag ? ` (${interp.cacheTag})` : ''}`
    : 'Python tree';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pyfloppy: ${esc(title)}</title>
<style>
${STYLE}</style></head><body>
<header><h1>${esc(title)}: <span class="big">${formatBytes(total.allocatedBytes)}</span> <span class="dim">${report.image === undefined ? `on disk, ${formatBytes(total.apparentBytes)} apparent` : 'apparent'}, ${formatCount(total.entries)} entries</span></h1>
<ul class="roots">${rootsList(report)}</ul>${imageNote(report)}</header>
<main>
<section class="card"><h2>Where the bytes go: top-level modules by file type</h2>${treemapSvg(report, 760, 470)}${legend()}</section>
<section class="card"><h2>By file type</h2><table><tbody>${kindRows(report)}</tbody></table><p class="dim small">Each inode counted once; ${formatBytes(report.hardlinkSavedBytes.allocatedBytes)} already saved by hardlinks. Test code: ${formatBytes(report.test.allocatedBytes)}.</p><h2 style="margin-top:14px">Bytecode identity</h2>${identityTable(report)}</section>
${strategiesSection(report).replace('<section class="card">', '<section class="card wide">')}
<section class="card wide"><h2>Biggest modules <span class="dim">(${formatCount(Math.min(top, report.modules.filter((m) => m.name !== '').length))} of ${formatCount(report.modules.filter((m) => m.name !== '').length)})</span></h2><table><thead><tr><th>module</th>${MODULE_COLS.map(([h]) => `<th class="num">${h}</th>`).join('')}<th class="num">total</th></tr></thead><tbody>${moduleRows(report, top)}</tbody></table></section>
${distributionsSection(report, top)}
${problemsSection(report)}
</main>
<footer class="dim small" style="padding:0 24px 20px">pyfloppy ${esc(report.generator.version)} · schema ${esc(report.schema)}</footer>
</body></html>
`;
}

/** The image's note and layer table (absent for directories). */
function imageNote(report: AnalyzeReport): string {
  const im = report.image;
  if (im === undefined) return '';
  if (report.package !== undefined) return packageNote(report.package, im.python);
  const rows = im.layers
    .map((l) => {
      const added = Object.values(l.added).reduce((a, b) => a + b, 0);
      return `<tr><td class="num">${l.index}</td><td><code>${esc(l.command)}</code></td><td class="num">${formatBytes(added)}</td><td class="num">${formatBytes(l.hides.apparentBytes)}</td><td class="num">${formatBytes(l.lateCaches.apparentBytes)}</td><td class="num">${formatBytes(l.neverRead.apparentBytes)}</td></tr>`;
    })
    .join('');
  return `<p class="dim">Image ${esc(im.path)} (${esc(im.format)}, ${esc(im.platform)}): ${esc(im.note)}. Python ${esc(im.python.version ?? 'unknown')}, from the ${esc(im.python.from)}.</p>
<table><thead><tr><th class="num">layer</th><th>step</th><th class="num">adds</th><th class="num">hides</th><th class="num">late caches</th><th class="num">never read</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** A package's kind, sizes and note, and its compressed size after each strategy (an estimate). */
function packageNote(
  p: NonNullable<AnalyzeReport['package']>,
  py: { version: string | null; from: string },
): string {
  const rows = (p.compressed?.strategies ?? [])
    .map(
      (s) =>
        `<tr><td><code>${esc(s.id)}</code></td><td class="num">${formatBytes(s.savedApparentBytes)}</td><td class="num">${formatBytes(s.compressedBytes)}</td></tr>`,
    )
    .join('');
  const table =
    rows === ''
      ? ''
      : `<table><thead><tr><th>strategy</th><th class="num">saves (apparent)</th><th class="num">package after (estimate)</th></tr></thead><tbody>${rows}</tbody></table><p class="dim">${esc(p.compressed!.note)}.</p>`;
  return `<p class="dim">Package ${esc(p.path)} (${esc(p.kind)}, ${esc(p.compression)}): ${formatBytes(p.archiveBytes)} as shipped; ${esc(p.note)}. Python ${esc(py.version ?? 'unknown')}, from the ${esc(py.from)}.</p>${table}`;
}

/** The report with every allocated figure replaced by the apparent one beside it. */
function apparentView(report: AnalyzeReport): AnalyzeReport {
  const swap = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(swap);
    if (typeof v !== 'object' || v === null) return v;
    const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]));
    if ('apparentBytes' in o && 'allocatedBytes' in o) o.allocatedBytes = o.apparentBytes;
    return o;
  };
  return swap(report) as AnalyzeReport;
}

const STYLE = `:root{--fg:#1d2125;--dim:#66707a;--line:#e3e6e8;--bg:#f6f7f8}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
header{padding:14px 24px 6px}h1{font-size:22px;margin:0}h2{font-size:16px;margin:0 0 8px}
.big{font-size:28px;font-weight:650}.dim{color:var(--dim)}.small{font-size:12px}
main{padding:6px 24px 24px;display:grid;grid-template-columns:minmax(0,1fr) 380px;gap:16px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px}
.wide{grid-column:1/-1}
svg.treemap{width:100%;height:auto;display:block}svg.treemap text{font-size:10.5px;fill:#fff;paint-order:stroke;stroke:rgba(0,0,0,.55);stroke-width:2px;pointer-events:none}
svg.treemap rect.mod{fill:#2f3a44}
.legend{list-style:none;padding:0;margin:8px 0 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
table{border-collapse:collapse;width:100%}td,th{padding:4px 6px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;color:var(--dim);font-size:12px}.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.barcell{width:28%}.kind{white-space:nowrap}.bar{background:#eef0f2;height:12px;border-radius:3px;margin-top:3px}.bar>div{height:12px;border-radius:3px}
.risks{font-size:12px;color:#444}.c{display:inline-block;min-width:16px;text-align:center;border-radius:8px;background:#fde2e1;color:#a4262c;font-size:11px;font-weight:700;margin-right:2px}
.ok{color:#2b8a3e;font-weight:600}ul.roots{margin:4px 0 0;padding-left:18px;color:var(--dim)}code{font-size:12.5px}
`;

function kindRows(report: AnalyzeReport): string {
  const total = report.grandTotal;
  return KIND_NAMES.filter((k) => report.totals[k].paths > 0)
    .map((k) => {
      const v = report.totals[k];
      return `<tr><td class="kind" title="${k}"><span class="sw" style="background:${KIND_COLORS[k]}"></span>${esc(KIND_HEADERS[k])}</td><td class="num">${formatCount(v.files)}</td><td class="num">${formatBytes(v.allocatedBytes)}</td><td class="barcell">${bar(v.allocatedBytes / (total.allocatedBytes || 1), KIND_COLORS[k])}</td><td class="num">${formatPercent(v.allocatedBytes, total.allocatedBytes)}</td></tr>`;
    })
    .join('');
}

function strategiesSection(report: AnalyzeReport): string {
  if (report.strategies.length === 0 || report.baseline === null) return '';
  const base = report.baseline.allocatedBytes;
  const max = Math.max(...report.strategies.map((s) => s.saved.allocatedBytes), 1);
  const rows = report.strategies
    .map((s) => {
      const risks =
        s.risks.length === 0
          ? '<span class="ok">none</span>'
          : s.risks.map((r) => `<span class="c">${r.constraint}</span> ${esc(r.why)}`).join('<br>');
      return `<tr><td><code>${esc(s.id)}</code>${s.actionable ? '' : ' <span class="dim" title="needs a change in CPython">*</span>'}<div class="dim small">${esc(s.title)} · ${esc(s.seedRef)}</div></td><td class="num">${formatBytes(s.saved.allocatedBytes)}</td><td class="barcell">${bar(s.saved.allocatedBytes / max, '#2b8a3e')}</td><td class="num">${formatPercent(s.saved.allocatedBytes, base)}</td><td class="num">${formatBytes(s.after.allocatedBytes)}</td><td class="risks">${risks}</td></tr>`;
    })
    .join('');
  const b = report.baseline;
  const of =
    b.excludeModules.length > 0 || b.excludeTests || b.excludeSitePackages
      ? `the tree without ${esc([...b.excludeModules, ...(b.excludeTests ? ['test code'] : []), ...(b.excludeSitePackages ? ['site-packages'] : [])].join(', '))}`
      : 'the whole tree';
  const notes = report.strategies.filter((s) => s.note !== undefined);
  const noteList =
    notes.length === 0
      ? ''
      : `<h2 style="margin-top:14px">Notes</h2><ul class="notes">${notes.map((s) => `<li><code>${esc(s.id)}</code>: ${esc(s.note!)}</li>`).join('')}</ul>`;
  return `<section class="card"><h2>What each strategy would save</h2><p class="dim">Disk usage, of ${of}: ${formatBytes(base)}. Risks are the constraints of seed 001: (1) Python users' expectations, (2) the distribution's users' expectations, (3) packagers' expectations, (4) no larger default footprint, (5) no divergence from upstream. * needs a change in CPython.</p><table class="strat"><thead><tr><th>strategy</th><th>saved</th><th></th><th>%</th><th>after</th><th>risks</th></tr></thead><tbody>${rows}</tbody></table>${noteList}</section>`;
}

function identityTable(report: AnalyzeReport): string {
  const b = report.bytecode;
  return b.modules === 0
    ? '<p>No bytecode caches.</p>'
    : `<table><tbody><tr><td>modules with caches</td><td class="num">${formatCount(b.modules)}</td><td></td></tr><tr><td>identical levels 0 and 1</td><td class="num">${formatCount(b.identical01)}</td><td class="num">${formatPercent(b.identical01, b.modules)}</td></tr><tr><td>identical levels 1 and 2</td><td class="num">${formatCount(b.identical12)}</td><td class="num">${formatPercent(b.identical12, b.modules)}</td></tr><tr><td>identical 0, 1 and 2</td><td class="num">${formatCount(b.identical012)}</td><td class="num">${formatPercent(b.identical012, b.modules)}</td></tr><tr><td>identical pairs already hardlinked</td><td class="num">${formatCount(b.alreadyLinked)}</td><td></td></tr></tbody></table><p class="dim">Linking the rest would free ${formatBytes(b.dedupable.allocatedBytes)} (<code>pyfloppy dedup</code>).</p>`;
}

const MODULE_COLS: Array<[string, KindName[]]> = [
  ['.py', ['source']],
  ['.pyc', ['bytecode-0']],
  ['.opt-1', ['bytecode-1']],
  ['.opt-2', ['bytecode-2']],
  ['.so', ['extension']],
  ['other', ['legacy-bytecode', 'metadata', 'data', 'directory', 'symlink']],
];

function moduleRows(report: AnalyzeReport, top: number): string {
  return report.modules
    .filter((m) => m.name !== '')
    .slice(0, top)
    .map(
      (m) =>
        `<tr><td><code>${esc(m.name)}</code>${m.test ? ' <span class="dim">tests</span>' : ''}</td>${MODULE_COLS.map(
          ([, ks]) => {
            const v = ks.reduce((s, k) => s + m.kinds[k].allocatedBytes, 0);
            return `<td class="num">${v === 0 ? '' : formatBytes(v)}</td>`;
          },
        ).join('')}<td class="num"><b>${formatBytes(m.allocatedBytes)}</b></td></tr>`,
    )
    .join('');
}

function rootsList(report: AnalyzeReport): string {
  return report.roots
    .map(
      (r) =>
        `<li><b>${esc(r.labels.join(', '))}</b> <code>${esc(r.realPath)}</code> ${formatBytes(r.allocatedBytes)}</li>`,
    )
    .join('');
}
