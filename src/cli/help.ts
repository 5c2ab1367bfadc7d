/**
 * Help text layout. Descriptions are written as prose lines of about 100 columns, lists ("- ..."), and
 * two-column tables ("  term    description", continued under the description). Commander would wrap each
 * line again at the terminal's width, cutting every line in two; instead prose is reflowed into paragraphs
 * and table rows wrap under their description column.
 */
import type { Help } from 'commander';

const ROW = /^(\s+\S+\s{2,})(\S.*)$/;
const LIST = /^(?:- |\* |\d+\. )/;

/** Lines joined back into the paragraphs and table rows they were written as. */
export function unwrap(text: string): string[] {
  const out: string[] = [];
  let column = -1; // the description column of the table row being continued
  for (const line of text.split('\n')) {
    const prev = out.at(-1);
    const indent = /^\s*/.exec(line)![0].length;
    const continues = line.trim() !== '' && prev !== undefined && prev.trim() !== '';
    if (continues && column > 0 && indent === column) {
      out[out.length - 1] = `${prev} ${line.trim()}`;
      continue;
    } else if (continues && indent === 0 && !/^\s/.test(prev) && !LIST.test(line)) {
      out[out.length - 1] = `${prev} ${line}`;
      continue;
    } else if (continues && indent === 2 && /^- /.test(prev) && !ROW.test(line)) {
      // A list item's continuation line.
      out[out.length - 1] = `${prev} ${line.trim()}`;
      continue;
    }
    const row = ROW.exec(line);
    column = row === null ? -1 : row[1]!.length;
    out.push(line);
  }
  return out;
}

/** Wrap words to width, every line after the first indented by hang. */
function wrapWords(text: string, width: number, first: string, hang: number): string[] {
  const lines: string[] = [];
  let cur = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (!empty && cur.length + 1 + word.length > width) {
      lines.push(cur);
      cur = ' '.repeat(hang) + word;
    } else cur += (empty ? '' : ' ') + word;
    empty = false;
  }
  lines.push(cur);
  return lines;
}

export function layout(text: string, width: number): string {
  const out: string[] = [];
  for (const line of unwrap(text)) {
    if (line.length <= width) {
      out.push(line);
      continue;
    }
    const row = ROW.exec(line);
    if (row !== null && row[1]!.length < width / 2)
      out.push(...wrapWords(row[2]!, width, row[1]!, row[1]!.length));
    else {
      const lead = /^(\s*(?:- |\* )?)/.exec(line)![1]!;
      out.push(...wrapWords(line.slice(lead.length), width, lead, lead.length));
    }
  }
  return out.join('\n');
}

/** The help configuration every command inherits. */
export const helpConfiguration: Partial<Help> = {
  boxWrap(str: string, width: number): string {
    return layout(str, width);
  },
};
