/**
 * The classify stage: Python knowledge applied to a scan. Every entry gets exactly one kind, a top-level
 * module, a test-code flag, and (in site-packages) the distribution that owns it. Pure except for reading the
 * RECORD / installed-files.txt of distributions.
 *
 * One pass in index order: a directory precedes its children in the table, so each directory's context
 * (is it __pycache__, metadata, test code, a sys.path entry; which top-level module) is computed once and
 * children read it from compact per-entry arrays.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  extensionModuleName,
  isMetadataDirName,
  isSysPathDirName,
  isTestDirName,
  parseCacheName,
} from '../python/layout.js';
import type { ScanResult } from '../scan/scan.js';
import { type EntryName, type EntryTable, TYPE_DIR, TYPE_FILE, TYPE_SYMLINK } from '../scan/table.js';
import {
  K_BYTECODE0,
  K_DATA,
  K_DIRECTORY,
  K_EXTENSION,
  K_LEGACY,
  K_METADATA,
  K_SOURCE,
  K_SYMLINK,
} from './kinds.js';

const F_PYCACHE = 1;
const F_META = 2;
const F_TEST = 4;
/** Files directly in this directory are top-level modules (a sys.path entry, or __pycache__ right below one). */
const F_TOPLEVEL = 8;

export interface Distribution {
  name: string;
  version: string;
  /** Index of the metadata directory entry. */
  entry: number;
}

/** Cache files of one module in one __pycache__ directory with one cache tag: levels 0, 1, 2. */
export interface BytecodeGroups {
  count: number;
  /** Entry index of each level's file, -1 when absent; 3 slots per group. */
  levels: Int32Array;
  /** Index into tags of each group's cache tag. */
  tag: Uint16Array;
}

export interface Classification {
  /** Kind of each entry (see kinds.ts). */
  kind: Uint8Array;
  /** Index into topNames of each entry's top-level module; -1 for sys.path directories themselves. */
  top: Int32Array;
  topNames: string[];
  /** 1 for test code. */
  test: Uint8Array;
  /** Index into distributions, -1 when no distribution owns the entry. */
  dist: Int32Array;
  distributions: Distribution[];
  tags: string[];
  bytecode: BytecodeGroups;
  /** RECORD files that could not be read (reported, not fatal). */
  problems: Array<{ path: string; code: string; message: string }>;
}

function stripSuffix(name: string, suffix: string): string {
  return name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
}

export function classify(scan: ScanResult): Classification {
  const t = scan.table;
  const k = new Classifier(t);
  for (let i = 0; i < t.count; i++) k.entry(i);
  const dist = new Int32Array(t.count).fill(-1);
  const problems: Classification['problems'] = [];
  const distributions = assignDistributions(t, k.metaDirs, dist, k.kind, problems);
  return {
    kind: k.kind,
    top: k.top,
    topNames: k.topNames,
    test: k.test,
    dist,
    distributions,
    tags: k.tags,
    bytecode: {
      count: k.groups,
      levels: k.groupLevels.subarray(0, 3 * k.groups),
      tag: k.groupTag.subarray(0, k.groups),
    },
    problems,
  };
}

/** The one pass of `classify()`, in index order (parents first), with per-directory flags. */
class Classifier {
  readonly kind: Uint8Array;
  readonly top: Int32Array;
  readonly test: Uint8Array;
  private readonly flags: Uint8Array;
  readonly topNames: string[] = [];
  private readonly topIndex = new Map<string, number>();
  readonly tags: string[] = [];
  private readonly tagIndex = new Map<string, number>();
  private readonly groupIndex = new Map<string, number>();
  groupLevels = new Int32Array(3 * 1024).fill(-1);
  groupTag = new Uint16Array(1024);
  groups = 0;
  readonly metaDirs: number[] = [];

  constructor(private readonly t: EntryTable) {
    const n = t.count;
    this.kind = new Uint8Array(n);
    this.top = new Int32Array(n).fill(-1);
    this.test = new Uint8Array(n);
    this.flags = new Uint8Array(n);
  }

  private topOf(name: string): number {
    let k = this.topIndex.get(name);
    if (k === undefined) {
      k = this.topNames.length;
      this.topNames.push(name);
      this.topIndex.set(name, k);
    }
    return k;
  }

  entry(i: number): void {
    const t = this.t;
    const p = t.parent[i]!;
    if (p === -1) {
      this.kind[i] = K_DIRECTORY;
      this.flags[i] = F_TOPLEVEL;
      return;
    }
    const raw = t.name[i]!;
    const name = typeof raw === 'string' ? raw : raw.toString('latin1');
    const type = t.type[i]!;
    if (type === TYPE_DIR) return this.directory(i, p, name);
    const pf = this.flags[p]!;
    const atTop = (pf & F_TOPLEVEL) !== 0;
    this.test[i] = (pf & F_TEST) !== 0 ? 1 : 0;
    if (type === TYPE_SYMLINK) {
      this.kind[i] = K_SYMLINK;
      this.top[i] = atTop ? this.topOf(stripSuffix(name, '.py')) : this.top[p]!;
      return;
    }
    const { k, modName } = this.fileKind(i, p, name, pf, type);
    this.kind[i] = k;
    this.top[i] = atTop ? this.topOf(modName ?? name) : this.top[p]!;
  }

  private directory(i: number, p: number, name: string): void {
    const pf = this.flags[p]!;
    const atTop = (pf & F_TOPLEVEL) !== 0;
    this.kind[i] = K_DIRECTORY;
    if ((pf & F_META) === 0 && isSysPathDirName(name)) {
      this.flags[i] = F_TOPLEVEL;
      return;
    }
    let f = pf & (F_META | F_TEST);
    if (name === '__pycache__') {
      // Files in a __pycache__ right below a sys.path entry are top-level modules' caches.
      f |= F_PYCACHE | (pf & F_TOPLEVEL);
      this.top[i] = atTop ? -1 : this.top[p]!;
    } else this.top[i] = atTop ? this.topOf(name) : this.top[p]!;
    if (isMetadataDirName(name)) {
      f |= F_META;
      if (atTop && name.endsWith('.dist-info')) this.metaDirs.push(i);
      if (atTop && name.endsWith('.egg-info')) this.metaDirs.push(i);
    }
    if (isTestDirName(name)) f |= F_TEST;
    this.flags[i] = f;
    this.test[i] = (f & F_TEST) !== 0 ? 1 : 0;
  }

  /** A file's kind, and the module name it counts under at the top level. */
  private fileKind(
    i: number,
    p: number,
    name: string,
    pf: number,
    type: number,
  ): { k: number; modName: string | undefined } {
    let k: number;
    let modName: string | undefined;
    if ((pf & F_META) !== 0 || (name.endsWith('.egg-info') && type === TYPE_FILE)) {
      k = K_METADATA;
    } else if ((pf & F_PYCACHE) !== 0 && name.endsWith('.pyc')) {
      const c = parseCacheName(name);
      if (c === undefined) {
        k = K_LEGACY; // Why: a .pyc in __pycache__ without a cache tag is never imported; it is legacy-style dead weight.
        modName = stripSuffix(name, '.pyc');
      } else {
        k = K_BYTECODE0 + c.level;
        modName = c.module;
        // Why: groupOf may grow groupLevels, so the group is found before the array is read.
        const g = this.groupOf(p, c.module, c.tag);
        this.groupLevels[3 * g + c.level] = i;
      }
    } else if (name.endsWith('.py')) {
      k = K_SOURCE;
      modName = name.slice(0, -3);
    } else if (name.endsWith('.pyc') || name.endsWith('.pyo')) {
      k = K_LEGACY;
      modName = name.slice(0, -4);
    } else {
      modName = extensionModuleName(name);
      k = modName === undefined ? K_DATA : K_EXTENSION;
    }
    if (type !== TYPE_FILE) k = K_DATA; // fifos, sockets, devices: counted, never Python
    return { k, modName };
  }

  /** The cache group of (__pycache__ directory, module, tag), made on first sight (arrays doubling). */
  private groupOf(pycache: number, module: string, tag: string): number {
    let tg = this.tagIndex.get(tag);
    if (tg === undefined) {
      tg = this.tags.length;
      this.tags.push(tag);
      this.tagIndex.set(tag, tg);
    }
    const key = `${pycache}/${module}/${tg}`;
    let g = this.groupIndex.get(key);
    if (g !== undefined) return g;
    g = this.groups++;
    if (g === this.groupTag.length) {
      const nl = new Int32Array(this.groupLevels.length * 2).fill(-1);
      nl.set(this.groupLevels);
      this.groupLevels = nl;
      const nt = new Uint16Array(this.groupTag.length * 2);
      nt.set(this.groupTag);
      this.groupTag = nt;
    }
    this.groupTag[g] = tg;
    this.groupIndex.set(key, g);
    return g;
  }
}

/** The dotted module name of entry i relative to its sys.path entry ('email.mime.text'), for people. */
export function dottedName(t: EntryTable, c: Classification, i: number): string {
  const parts: string[] = [];
  for (let j = i; j !== -1; j = t.parent[j]!) {
    const raw: EntryName = t.name[j]!;
    const name = typeof raw === 'string' ? raw : raw.toString('latin1');
    if (t.parent[j] === -1 || (c.kind[j] === K_DIRECTORY && c.top[j] === -1 && name !== '__pycache__')) break;
    if (name === '__pycache__') continue;
    if (j === i) {
      const k = c.kind[i]!;
      if (k === K_SOURCE) parts.push(name === '__init__.py' ? '' : name.slice(0, -3));
      else if (k >= K_BYTECODE0 && k <= K_BYTECODE0 + 2) {
        const m = parseCacheName(name)!.module;
        parts.push(m === '__init__' ? '' : m);
      } else if (k === K_LEGACY) parts.push(name.slice(0, -4));
      else if (k === K_EXTENSION) parts.push(extensionModuleName(name)!);
      else parts.push(name);
    } else parts.push(name);
  }
  return parts
    .reverse()
    .filter((s) => s !== '')
    .join('.');
}

/**
 * Read each distribution's file list (dist-info RECORD, egg-info installed-files.txt) and mark the entries it
 * lists. A file the list does not name (a cache compiled after installation, a file left by hand) belongs to
 * the distribution that owns other files of its directory (for __pycache__, of the directory above).
 */
function assignDistributions(
  t: EntryTable,
  metaDirs: number[],
  dist: Int32Array,
  kind: Uint8Array,
  problems: Classification['problems'],
): Distribution[] {
  const distributions: Distribution[] = [];
  if (metaDirs.length === 0) return distributions;
  const listed = new ListedPaths();
  for (const m of metaDirs) {
    const meta = metadataDir(t, m);
    const d = distributions.length;
    distributions.push({ name: meta.name, version: meta.version, entry: m });
    dist[m] = d;
    const top = listed.rootOf(t.parent[m]!);
    const text = readFileList(t, m, meta.listFile, problems);
    if (text !== undefined) listed.addList(top, text, meta, d);
  }
  const { dirDist, unlisted } = matchListed(t, listed, dist, kind);
  inheritUnlisted(t, kind, dist, dirDist, unlisted);
  return distributions;
}

interface MetadataDir {
  name: string;
  version: string;
  dirName: string;
  isDistInfo: boolean;
  listFile: 'RECORD' | 'installed-files.txt';
}

/** A metadata directory's distribution name and version, and the file listing its paths. */
function metadataDir(t: EntryTable, m: number): MetadataDir {
  const raw = t.name[m]!;
  const dirName = typeof raw === 'string' ? raw : raw.toString('utf8');
  const isDistInfo = dirName.endsWith('.dist-info');
  const base = dirName.slice(0, -(isDistInfo ? '.dist-info'.length : '.egg-info'.length));
  const dash = base.indexOf('-');
  return {
    name: dash === -1 ? base : base.slice(0, dash),
    version: dash === -1 ? '' : base.slice(dash + 1),
    dirName,
    isDistInfo,
    listFile: isDistInfo ? 'RECORD' : 'installed-files.txt',
  };
}

/** A distribution's file list, or undefined (a problem unless it does not exist). */
function readFileList(
  t: EntryTable,
  m: number,
  listFile: string,
  problems: Classification['problems'],
): string | undefined {
  if (t.contents !== undefined) return keptList(t, m, listFile);
  const dirPath = t.fsPath(m);
  let fd = -1;
  try {
    // O_NOFOLLOW: a file list that is a symlink could point outside the roots; it is not read through.
    fd = fs.openSync(
      typeof dirPath === 'string'
        ? `${dirPath}/${listFile}`
        : Buffer.concat([dirPath, Buffer.from(`/${listFile}`)]),
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW,
    );
    return fs.readFileSync(fd, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    const message = code === 'ELOOP' ? 'is a symlink (not followed)' : (e as Error).message;
    if (code !== 'ENOENT') problems.push({ path: `${t.displayPath(m)}/${listFile}`, code, message });
    return undefined;
  } finally {
    if (fd !== -1) fs.closeSync(fd);
  }
}

/** An image's distribution list, kept while its layers were read. */
function keptList(t: EntryTable, m: number, listFile: string): string | undefined {
  const i = t.contents!.child(m, listFile);
  return i === -1 ? undefined : t.contents!.text(i)?.toString('utf8');
}

/**
 * The listed paths of each sys.path directory as a trie of path components (a Map of child names per node),
 * so that the table is matched component by component instead of building every entry's relative path.
 */
class ListedPaths {
  readonly children: Array<Map<string, number>> = [];
  readonly nodeDist: number[] = [];
  /** sys.path directory entry -> trie node */
  readonly rootNode = new Map<number, number>();

  rootOf(sysPathDir: number): number {
    let top = this.rootNode.get(sysPathDir);
    if (top === undefined) {
      top = this.newNode();
      this.rootNode.set(sysPathDir, top);
    }
    return top;
  }

  /** The paths of one file list, relative to the sys.path directory (`top`), as distribution d's. */
  addList(top: number, text: string, meta: MetadataDir, d: number): void {
    for (const line of text.split('\n')) {
      if (line === '' || line === '\r') continue;
      let rel = meta.isDistInfo ? firstCsvField(line) : line.trim();
      if (!meta.isDistInfo) rel = `${meta.dirName}/${rel}`;
      if (rel.includes('..') || rel.includes('./') || rel.includes('//')) rel = path.posix.normalize(rel);
      if (rel.startsWith('../') || rel === '..' || rel.startsWith('/')) continue; // outside the sys.path entry
      this.nodeDist[this.pathNode(top, rel)] = d;
    }
  }

  private pathNode(top: number, rel: string): number {
    let node = top;
    let from = 0;
    while (from <= rel.length) {
      let to = rel.indexOf('/', from);
      if (to === -1) to = rel.length;
      const part = rel.slice(from, to);
      from = to + 1;
      let next = this.children[node]!.get(part);
      if (next === undefined) {
        next = this.newNode();
        this.children[node]!.set(part, next);
      }
      node = next;
    }
    return node;
  }

  private newNode(): number {
    this.children.push(new Map());
    this.nodeDist.push(-1);
    return this.children.length - 1;
  }
}

/**
 * Match entries below the sys.path directories against the trie: listed files get their distribution,
 * and their directory passes it on; what no list names is returned for inheritUnlisted().
 */
function matchListed(
  t: EntryTable,
  listed: ListedPaths,
  dist: Int32Array,
  kind: Uint8Array,
): { dirDist: Map<number, number>; unlisted: number[] } {
  const { children, nodeDist, rootNode } = listed;
  const node = new Int32Array(t.count).fill(-1);
  const under = new Uint8Array(t.count);
  for (const [sp, n] of rootNode) {
    node[sp] = n;
    under[sp] = 1;
  }
  const dirDist = new Map<number, number>();
  const unlisted: number[] = [];
  for (let i = 0; i < t.count; i++) {
    const p = t.parent[i]!;
    if (p === -1 || under[p] === 0) continue;
    under[i] = 1;
    const pn = node[p]!;
    let d = -1;
    if (pn !== -1) {
      const raw = t.name[i]!;
      const c = children[pn]!.get(typeof raw === 'string' ? raw : raw.toString('utf8'));
      if (c !== undefined) {
        node[i] = c;
        d = nodeDist[c]!;
      }
    }
    if (kind[i] === K_DIRECTORY) {
      if (dist[i] === -1) unlisted.push(i);
      continue;
    }
    if (d !== -1) {
      dist[i] = d;
      // A sys.path directory holds many distributions' files: it never passes one on.
      if (!dirDist.has(p) && !rootNode.has(p)) dirDist.set(p, d);
    } else unlisted.push(i);
  }
  return { dirDist, unlisted };
}

/** Unlisted entries: inherit from their directory (or, for __pycache__ and its files, the directory above). */
function inheritUnlisted(
  t: EntryTable,
  kind: Uint8Array,
  dist: Int32Array,
  dirDist: Map<number, number>,
  unlisted: number[],
): void {
  for (const i of unlisted) {
    let p = kind[i] === K_DIRECTORY ? i : t.parent[i]!;
    let d = dirDist.get(p);
    while (d === undefined && p !== -1 && t.name[p] === '__pycache__') {
      p = t.parent[p]!;
      d = dirDist.get(p);
    }
    if (d !== undefined) dist[i] = d;
  }
}

/** The first field of a CSV line (RECORD rows are path,hash,size; a path with a comma is quoted). */
function firstCsvField(line: string): string {
  if (!line.startsWith('"')) {
    const c = line.indexOf(',');
    return c === -1 ? line : line.slice(0, c);
  }
  let out = '';
  for (let i = 1; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '"') {
      if (line[i + 1] === '"') {
        out += '"';
        i++;
      } else break;
    } else out += ch;
  }
  return out;
}
