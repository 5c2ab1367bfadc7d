/**
 * Distribution metadata kept true after a layout change: each distribution's file list (a dist-info
 * `RECORD`, an egg-info `installed-files.txt`) that names a file the plan removes, moves or makes is
 * rewritten by a `replace` operation of the same plan (journaled and rolled back with the rest). Removed
 * files are dropped, moved ones renamed, new ones added: in a RECORD with `sha256=` (urlsafe base64
 * without padding, as the wheel spec and pip write it) and their size, as pip lists the caches it
 * compiles. A link keeps its row (same bytes). Rows the plan does not touch keep their text and order.
 *
 * A new file belongs to the distribution of the file it is made from (a relocated cache, a gzipped
 * source), else to that of its module (`pkg/mod.pyc` of `pkg/mod.py`), else to the one whose files fill
 * its directory (a marker in `pkg/__pycache__/`); never to a sys.path directory as a whole. Read-only.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Layout } from '../strategies/strategy.js';
import { fingerprint, madeFrom, sha256 } from './files.js';
import type { PlanOperation } from './plan.js';

/** One line of a list: its text, the root-relative path it names (null: outside the root), what became of it. */
interface Row {
  raw: string;
  rel: string | null;
  gone: boolean;
  /** Moved or made: the new row's path, hash (hex) and size. */
  now?: { rel: string; sha256: string | undefined; size: number };
}

interface FileList {
  /** The list file, relative to the root. */
  rel: string;
  /** What its paths are relative to (root-relative, '' for the root). */
  base: string;
  csv: boolean;
  eol: string;
  rows: Row[];
  changed: boolean;
}

/**
 * The operations with the `replace` operations of the lists they make untrue, before the first `rmdir`
 * (directories go after their files; the lists are rewritten once every file is in place).
 */
export function withListsRewritten(
  l: Layout,
  ops: PlanOperation[],
  root: string,
  hashes: ReadonlyMap<string, string>,
): PlanOperation[] {
  const rmdirs = ops.findIndex((o) => o.op === 'rmdir');
  ops.splice(rmdirs === -1 ? ops.length : rmdirs, 0, ...recordRewrites(l, ops, root, hashes));
  return ops;
}

/** The `replace` operations rewriting every list the operations make untrue, in distribution order. */
export function recordRewrites(
  l: Layout,
  ops: readonly PlanOperation[],
  root: string,
  hashes: ReadonlyMap<string, string>,
): PlanOperation[] {
  const lists = readLists(l, root);
  if (lists.length === 0) return [];
  const index = new ListIndex(lists);
  const touched = new Set<string>();
  for (const o of ops) index.apply(o, hashes, touched);
  // A list some operation takes away or links is left to it (the validator would refuse a second one).
  return lists.filter((f) => f.changed && !touched.has(f.rel)).map((f) => replaceOp(f, root));
}

/** Each distribution's list file that is a plain file the plan may act on, read and split into rows. */
function readLists(l: Layout, root: string): FileList[] {
  const out: FileList[] = [];
  for (const d of l.c.distributions) {
    if (!l.facts.plannable(d.entry)) continue;
    const metaRel = l.rel(d.entry);
    const csv = metaRel.endsWith('.dist-info');
    const rel = `${metaRel}/${csv ? 'RECORD' : 'installed-files.txt'}`;
    const text = readPlain(path.join(root, rel));
    if (text === undefined) continue;
    const top = path.posix.dirname(metaRel);
    const base = csv ? (top === '.' ? '' : top) : metaRel;
    out.push(parseList(rel, base, csv, text));
  }
  return out;
}

/** A regular file's text, never through a symlink; undefined when absent or not a file. */
function readPlain(abs: string): string | undefined {
  const st = fs.lstatSync(abs, { throwIfNoEntry: false });
  if (st?.isFile() !== true) return undefined;
  const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function parseList(rel: string, base: string, csv: boolean, text: string): FileList {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(eol);
  if (lines.at(-1) === '') lines.pop();
  const rows = lines.map((raw): Row => {
    const name = csv ? (csvFields(raw)[0] ?? '') : raw.trim();
    const plain = base === '' ? name : `${base}/${name}`;
    // Why not always path.posix.normalize: it is most of the cost on a site-packages of 40,000 rows.
    const joined = /(?:^|\/)\.\.?(?:\/|$)|\/\//.test(plain) ? path.posix.normalize(plain) : plain;
    const outside = name === '' || joined.startsWith('../') || joined === '..' || path.posix.isAbsolute(name);
    return { raw, rel: outside ? null : joined, gone: false };
  });
  return { rel, base, csv, eol, rows, changed: false };
}

/** The fields of one CSV line as Python's csv module writes them (a field with `,` or `"` quoted). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    let field = '';
    if (line[i] === '"') {
      for (i++; i < line.length; i++) {
        if (line[i] === '"' && line[i + 1] === '"') field += line[++i];
        else if (line[i] === '"') break;
        else field += line[i];
      }
      i++;
    }
    const comma = line.indexOf(',', i);
    const end = comma === -1 ? line.length : comma;
    out.push(field + line.slice(i, end));
    i = end + 1;
  }
  return out;
}

const csvField = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/** A hex SHA-256 as RECORD writes it: `sha256=` and urlsafe base64 without padding. */
export function recordHash(hex: string): string {
  return `sha256=${Buffer.from(hex, 'hex').toString('base64url')}`;
}

/** The key of a module's files: `pkg/mod` for pkg/mod.py, pkg/__pycache__/mod.TAG.pyc, pkg/__pysources__/mod.py.gz. */
function moduleKey(rel: string): string | undefined {
  if (!/\.(?:py|pyc|pyw|py\.gz)$/.test(rel)) return undefined;
  const slash = rel.lastIndexOf('/');
  const name = rel.slice(slash + 1);
  const dot = name.indexOf('.');
  return `${ownerDir(rel)}/${dot === -1 ? name : name.slice(0, dot)}`;
}

/**
 * A file's owning directory ('' for the root): its own, or the package above `__pycache__` and
 * `__pysources__`. Slices rather than path.posix: this runs for every row and every new file.
 */
function ownerDir(rel: string): string {
  const slash = rel.lastIndexOf('/');
  const dir = slash === -1 ? '' : rel.slice(0, slash);
  const up = dir.lastIndexOf('/');
  const name = dir.slice(up + 1);
  return name === '__pycache__' || name === '__pysources__' ? (up === -1 ? '' : dir.slice(0, up)) : dir;
}

/** Which list names a path, a module or a directory; the operations carried into the rows. */
class ListIndex {
  /** Each path's rows: two distributions may list one file (each drops it when it goes). */
  private readonly rows = new Map<string, Array<{ list: FileList; row: Row }>>();
  private readonly modules = new Map<string, FileList>();
  private readonly dirs = new Map<string, FileList>();

  constructor(lists: FileList[]) {
    const top = (f: FileList): string => (f.csv ? f.base : path.posix.dirname(f.base).replace(/^\.$/, ''));
    const tops = new Set(lists.map(top));
    for (const list of lists)
      for (const row of list.rows) {
        if (row.rel === null) continue;
        this.rowsOf(row.rel).push({ list, row });
        const key = moduleKey(row.rel);
        if (key !== undefined && !this.modules.has(key)) this.modules.set(key, list);
        const dir = ownerDir(row.rel);
        if (!tops.has(dir) && !this.dirs.has(dir)) this.dirs.set(dir, list);
      }
  }

  /** One operation's effect on the rows; `touched` collects paths the plan takes away (a list among them). */
  apply(o: PlanOperation, hashes: ReadonlyMap<string, string>, touched: Set<string>): void {
    switch (o.op) {
      case 'remove':
      case 'rmdir':
        touched.add(o.path);
        return this.drop(o.path);
      case 'move':
        touched.add(o.from);
        this.drop(o.from);
        return this.add(o.to, o.from, o.fp.sha256, o.fp.size);
      case 'write':
        return this.add(o.path, madeFrom(o.content)?.from, hashes.get(o.path), o.size);
      case 'link':
        touched.add(o.path); // a link keeps its row: the same bytes under the same name
        return;
      default:
        return;
    }
  }

  private rowsOf(rel: string): Array<{ list: FileList; row: Row }> {
    let r = this.rows.get(rel);
    if (r === undefined) this.rows.set(rel, (r = []));
    return r;
  }

  private drop(rel: string): void {
    for (const hit of this.rows.get(rel) ?? []) {
      if (hit.row.gone) continue;
      hit.row.gone = true;
      hit.list.changed = true;
    }
  }

  /** A file the plan makes at `rel` (from the file `from`), in the list that owns it, if any. */
  private add(rel: string, from: string | undefined, sha: string | undefined, size: number): void {
    const list = this.owner(rel, from);
    if (list === undefined) return;
    const row: Row = { raw: '', rel, gone: false, now: { rel, sha256: sha, size } };
    list.rows.push(row);
    list.changed = true;
    this.rowsOf(rel).push({ list, row });
  }

  private owner(rel: string, from: string | undefined): FileList | undefined {
    const byOrigin = from === undefined ? undefined : this.rows.get(from)?.[0]?.list;
    const key = moduleKey(rel);
    return (
      byOrigin ?? (key === undefined ? undefined : this.modules.get(key)) ?? this.dirs.get(ownerDir(rel))
    );
  }
}

/** The list's new text: kept rows as they were (text and order), then the new ones. */
export function listText(f: FileList): string {
  const kept = f.rows.filter((r) => !r.gone && r.now === undefined).map((r) => r.raw);
  // New rows sorted by name (as pip sorts RECORD), so the text does not depend on the scan's order.
  const made = f.rows
    .filter((r) => !r.gone && r.now !== undefined)
    .map((r) => {
      const now = r.now!;
      const name = f.base === '' ? now.rel : relativeTo(f.base, now.rel);
      const hash = now.sha256 === undefined ? '' : recordHash(now.sha256);
      return { name, line: f.csv ? `${csvField(name)},${hash},${now.size}` : name };
    })
    .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
    .map((x) => x.line);
  return [...kept, ...made].map((s) => s + f.eol).join('');
}

/** `rel` relative to `base` (both root-relative): a slice below it, else `../` steps (an egg-info's rows). */
function relativeTo(base: string, rel: string): string {
  return rel.startsWith(`${base}/`) ? rel.slice(base.length + 1) : path.posix.relative(`/${base}`, `/${rel}`);
}

function replaceOp(f: FileList, root: string): PlanOperation {
  const abs = path.join(root, f.rel);
  const data = Buffer.from(listText(f));
  const mode = fs.lstatSync(abs).mode & 0o7777;
  return {
    op: 'replace',
    path: f.rel,
    fp: fingerprint(abs, true),
    mode,
    content: { inline: data.toString('base64'), sha256: sha256(data) },
    size: data.length,
  };
}
