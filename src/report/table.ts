/**
 * The one table style of the text reports (analyze, check, split): markdown-table's aligned columns without
 * the outer pipes, fitted to a width (the terminal's, 100 columns when output is not a terminal). A table
 * wider than that has its widest left-aligned column (prose: meanings, seed references, paths) wrapped at
 * spaces onto continuation rows whose other cells are empty.
 */
import { markdownTable } from 'markdown-table';

export type Align = 'l' | 'r';

/** The width text reports fit: the terminal's columns on a TTY, else 100. */
export function outputWidth(stream: { isTTY?: boolean; columns?: number }): number {
  return stream.isTTY === true && typeof stream.columns === 'number' && stream.columns > 0
    ? stream.columns
    : 100;
}

function render(rows: string[][], align: Align[]): string {
  return markdownTable(rows, { align, delimiterStart: false, delimiterEnd: false });
}

function widest(text: string): number {
  return Math.max(0, ...text.split('\n').map((l) => l.length));
}

/** Words of `text` in lines of at most `width` characters (a longer word stands alone). */
export function wrapWords(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      out.push(line);
      line = word;
    }
  }
  return out.length === 0 && line === '' ? [''] : [...out, line];
}

export function textTable(rows: string[][], align: Align[], width = 100): string {
  const whole = render(rows, align);
  if (widest(whole) <= width) return whole;
  // Why: the widest left-aligned column (never the first, which names the row) holds prose; wrap it.
  const cellWidth = (c: number): number => Math.max(0, ...rows.map((r) => (r[c] ?? '').length));
  const candidates = align.map((a, c) => (a === 'l' && c > 0 ? c : -1)).filter((c) => c > 0);
  if (candidates.length === 0) return whole;
  const col = candidates.reduce((a, b) => (cellWidth(b) > cellWidth(a) ? b : a));
  // The other columns' share of the width: the table rendered with that column empty.
  const others = widest(
    render(
      rows.map((r) => r.map((cell, c) => (c === col ? '' : cell))),
      align,
    ),
  );
  const room = Math.max(20, width - others);
  const wrapped: string[][] = [];
  rows.forEach((r, n) => {
    const lines = n === 0 ? [r[col] ?? ''] : wrapWords(r[col] ?? '', room);
    lines.forEach((l, k) => wrapped.push(r.map((cell, c) => (c === col ? l : k === 0 ? cell : ''))));
  });
  return render(wrapped, align);
}
