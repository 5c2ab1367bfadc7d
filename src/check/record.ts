/**
 * The `stale-record` rule's reading: each distribution's file list (dist-info `RECORD`, egg-info
 * `installed-files.txt`) compared with the files. A row names a file that is gone, or whose size or hash
 * (as `pip` and `importlib.metadata` check it) differs; a file of the distribution's directories (and the
 * directories below them) that no row names (but caches in `__pycache__`, which imports write and pip
 * removes with their source). Rows that lead out of the sys.path directory (`../../../bin/pip`) are outside
 * the tree and not checked. Not for an image: its files' bytes are not kept.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { csvFields } from '../plan/record.js';
import { K_DIRECTORY } from '../model/kinds.js';
import { type EntryTable, TYPE_FILE } from '../scan/table.js';
import type { CheckState } from './state.js';

export interface RecordProblem {
  entry: number;
  message: string;
}

/** Every row of every list that is untrue, and every unlisted file, in distribution order. */
export function recordProblems(s: CheckState): RecordProblem[] {
  const { t, c } = s;
  if (t.contents !== undefined || c.distributions.length === 0) return [];
  const byPath = new Map<string, number>();
  for (let i = 0; i < t.count; i++) {
    const p = c.dist[i] === -1 ? null : t.fsPath(i);
    if (typeof p === 'string') byPath.set(p, i);
  }
  const listed = new Set<number>();
  const lists = new Map<number, string>();
  const out: RecordProblem[] = [];
  c.distributions.forEach((d, n) => {
    const list = readList(t.fsPath(d.entry), byPath);
    if (list === undefined) return;
    listed.add(list.entry);
    lists.set(n, list.name);
    for (const row of list.text.split('\n')) {
      const hit = checkRow(row.replace(/\r$/, ''), list, { byPath, t });
      if (hit?.entry !== undefined) listed.add(hit.entry);
      if (hit?.why !== undefined)
        out.push({ entry: hit.entry ?? list.entry, message: `${list.name} of ${d.name}: ${hit.why}` });
    }
  });
  return [...out, ...unlisted(s, lists, listed)];
}

interface List {
  entry: number;
  name: string;
  text: string;
  csv: boolean;
  /** What its rows are relative to. */
  base: string;
}

/** A metadata directory's list, when it is a file of the tree that can be read. */
function readList(meta: string | Buffer, byPath: Map<string, number>): List | undefined {
  if (typeof meta !== 'string') return undefined;
  const csv = meta.endsWith('.dist-info');
  const name = csv ? 'RECORD' : 'installed-files.txt';
  const file = path.join(meta, name);
  const entry = byPath.get(file);
  const text = entry === undefined ? undefined : readPlain(file);
  if (entry === undefined || text === undefined) return undefined;
  return { entry, name, text, csv, base: csv ? path.dirname(meta) : meta };
}

type RowCheck = { entry?: number; why?: string } | null;

/**
 * A row's file (when in the tree) and what is wrong with it; null for a row outside the tree or empty.
 * Sizes are the scan's (just taken); a row whose file the scan did not see is looked up once more.
 */
function checkRow(row: string, list: List, tree: { byPath: Map<string, number>; t: EntryTable }): RowCheck {
  if (row.trim() === '') return null;
  const [rel = '', hash = '', size = ''] = list.csv ? csvFields(row) : [row.trim()];
  const abs = path.resolve(list.base, rel);
  const i = tree.byPath.get(abs);
  if (i === undefined) {
    const inside = !path.relative(list.base, abs).startsWith('..') && !path.isAbsolute(rel);
    const gone = inside && fs.lstatSync(abs, { throwIfNoEntry: false }) === undefined;
    return gone ? { why: `names ${rel}, which does not exist` } : null;
  }
  if (tree.t.type[i] !== TYPE_FILE) return { entry: i };
  const actual = tree.t.size[i]!;
  if (size !== '' && Number(size) !== actual)
    return { entry: i, why: `records size ${size} for ${rel}, which has ${actual} bytes` };
  return { entry: i, ...hashProblem(abs, rel, hash) };
}

/** The hash a row records, compared with the file's (an unknown algorithm is not compared). */
function hashProblem(abs: string, rel: string, hash: string): { why?: string } {
  const eq = hash.indexOf('=');
  if (eq === -1) return {};
  const [algorithm, value] = [hash.slice(0, eq), hash.slice(eq + 1)];
  const actual = digest(abs, algorithm);
  return actual === undefined || actual === value
    ? {}
    : { why: `records ${algorithm} ${value} for ${rel}, which has other bytes` };
}

/** A file's digest as RECORD writes it (urlsafe base64, no padding); undefined for an unknown algorithm. */
function digest(abs: string, algorithm: string): string | undefined {
  let h: crypto.Hash;
  try {
    h = crypto.createHash(algorithm);
  } catch {
    return undefined;
  }
  let fd = -1;
  try {
    fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    for (let r = fs.readSync(fd, CHUNK); r > 0; r = fs.readSync(fd, CHUNK)) h.update(CHUNK.subarray(0, r));
    return h.digest('base64url');
  } catch {
    return undefined; // unreadable since the scan: not this rule's to report
  } finally {
    if (fd !== -1) fs.closeSync(fd);
  }
}

/** One buffer for every file hashed: no allocation per file. */
const CHUNK = Buffer.allocUnsafe(1 << 20);

/** Files of the distributions whose lists were read that no row names (caches in `__pycache__` aside). */
function unlisted(s: CheckState, lists: Map<number, string>, listed: Set<number>): RecordProblem[] {
  const { t, c } = s;
  const owner = owners(s);
  const out: RecordProblem[] = [];
  for (let i = 0; i < t.count; i++) {
    const d = owner[i]!;
    const list = lists.get(d);
    if (list === undefined || listed.has(i) || c.kind[i] === K_DIRECTORY) continue;
    if (t.name[t.parent[i]!] === '__pycache__') continue;
    out.push({ entry: i, message: `${list} of ${c.distributions[d]!.name} does not name this file` });
  }
  return out;
}

/**
 * Each entry's distribution: the classification's, else that of the nearest directory above it that has
 * one (a directory of its own files, `pkg/data/` in `pkg/`), never through a sys.path directory. One pass:
 * parents come before their children in the table.
 */
function owners(s: CheckState): Int32Array {
  const { t, c } = s;
  const owner = new Int32Array(t.count).fill(-1);
  for (let i = 0; i < t.count; i++) {
    const p = t.parent[i]!;
    owner[i] = c.dist[i] !== -1 ? c.dist[i]! : p === -1 || c.top[p] === -1 ? -1 : owner[p]!;
  }
  return owner;
}

function readPlain(abs: string): string | undefined {
  try {
    const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      return fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}
