/**
 * The layer table: per layer, the command that made it, the bytes it adds by file type, the bytes it hides
 * from earlier layers (deleted or replaced: still shipped, no longer reachable), caches it adds for sources
 * an earlier layer added (written by a later step, not by the package), and caches CPython never reads
 * (modules the interpreter freezes, caches of another interpreter version). And the interpreter's version
 * as the image tells it, without running it.
 */
import { parseCacheName } from '../python/layout.js';
import { magicInfo } from '../python/pyc.js';
import { type ImageRead, LAYER_KINDS, type LayerKind } from './read.js';
import type { FoundRoot } from './roots.js';
import { N_FILE, type ImageTree } from './tree.js';

export interface LayerRow {
  /** 1-based, bottom layer first. */
  index: number;
  digest: string | null;
  /** The Dockerfile step (config history), '' when unknown. */
  command: string;
  /** Bytes of the layer's blob as stored (compressed or not). */
  storedBytes: number;
  /** Apparent bytes of the files the layer adds, by type; each inode once. */
  added: Record<LayerKind, number>;
  addedFiles: number;
  /** Bytes of earlier layers' files this layer deletes or replaces (shipped, unreachable). */
  hides: { files: number; apparentBytes: number };
  /** Bytes this layer ships that later layers hide. */
  hiddenLater: { files: number; apparentBytes: number };
  /** Caches this layer adds whose source came in an earlier layer. */
  lateCaches: { files: number; apparentBytes: number };
  /** Caches this layer adds (still reachable) that CPython never reads. */
  neverRead: { files: number; apparentBytes: number };
}

export interface ImagePython {
  version: string | null;
  cacheTag: string | null;
  /** Where the version comes from: the stdlib directory, pyvenv.cfg, or the caches' magic numbers. */
  from: string;
}

export interface ImageInfo {
  path: string;
  format: string;
  platform: string;
  /** Always: archives have no blocks, so allocated bytes are reported as 0. */
  note: string;
  python: ImagePython;
  layers: LayerRow[];
  /**
   * Strategies analyze left out: they need file contents the stream does not keep (compressed sizes,
   * names inside bytecode). Set by analyze with estimates.
   */
  notEstimated?: string[];
}

export const APPARENT_NOTE = 'apparent bytes only (an archive has no blocks); the interpreter was not run';

/** Modules frozen into the interpreter: their caches are never read (importlib's always; 3.11+'s startup). */
const FROZEN_ALWAYS = ['importlib/_bootstrap', 'importlib/_bootstrap_external'];
const FROZEN_3_11 = [
  'abc',
  'codecs',
  'io',
  '_collections_abc',
  '_sitebuiltins',
  'genericpath',
  'ntpath',
  'posixpath',
  'os',
  'site',
  'stat',
  'importlib/util',
  'importlib/machinery',
  'runpy',
  'zipimport',
];

export function imageInfo(read: ImageRead, roots: FoundRoot[], path: string): ImageInfo {
  const python = imagePython(read, roots);
  const rows = read.source.layers.map((l, k) =>
    emptyRow(k, l.digest ?? null, l.command, read.layerBytes[k]!),
  );
  tallyInodes(read, rows);
  tallyCaches(read, rows, python, roots);
  return {
    path,
    format: read.source.format,
    platform: read.source.platform,
    note: APPARENT_NOTE,
    python,
    layers: rows,
  };
}

function emptyRow(k: number, digest: string | null, command: string, storedBytes: number): LayerRow {
  const zero = (): { files: number; apparentBytes: number } => ({ files: 0, apparentBytes: 0 });
  const added = Object.fromEntries(LAYER_KINDS.map((x) => [x, 0])) as Record<LayerKind, number>;
  return {
    index: k + 1,
    digest,
    command,
    storedBytes,
    added,
    addedFiles: 0,
    hides: zero(),
    hiddenLater: zero(),
    lateCaches: zero(),
    neverRead: zero(),
  };
}

/** Added and hidden bytes, inode by inode. */
function tallyInodes(read: ImageRead, rows: LayerRow[]): void {
  const tree = read.tree;
  for (let ino = 1; ino < tree.type.length; ino++) {
    if (tree.type[ino] !== N_FILE) continue;
    const size = tree.size[ino]!;
    const row = rows[tree.layer[ino]!]!;
    row.added[LAYER_KINDS[read.kind[ino]!]!] += size;
    row.addedFiles++;
    const by = tree.hiddenBy[ino]!;
    if (by === -1) continue;
    row.hiddenLater.files++;
    row.hiddenLater.apparentBytes += size;
    if (by > tree.layer[ino]!) {
      rows[by]!.hides.files++;
      rows[by]!.hides.apparentBytes += size;
    }
  }
}

/** Reachable caches: late ones (source from an earlier layer) and never-read ones. */
function tallyCaches(read: ImageRead, rows: LayerRow[], python: ImagePython, roots: FoundRoot[]): void {
  const tree = read.tree;
  const stdlibs = roots.filter((r) => r.label === 'stdlib').map((r) => tree.lookup(r.rel.split('/')));
  eachCache(
    tree,
    (node, dirNode, cache, where) => {
      const ino = tree.inode[node]!;
      const row = rows[tree.layer[ino]!]!;
      const size = tree.size[ino]!;
      const src = tree.kids[dirNode]?.get(`${cache.module}.py`);
      if (src !== undefined && tree.layer[tree.inode[src]!]! < tree.layer[ino]!) {
        row.lateCaches.files++;
        row.lateCaches.apparentBytes += size;
      }
      if (neverRead(cache, where?.tag ?? python.cacheTag, where?.rel)) {
        row.neverRead.files++;
        row.neverRead.apparentBytes += size;
      }
    },
    stdlibs,
  );
}

/** Caches of another tag than their stdlib's (or the image's), or of a module that version freezes. */
function neverRead(cache: { module: string; tag: string }, tag: string | null, stdlibRel?: string): boolean {
  if (tag !== null && cache.tag !== tag) return true;
  if (stdlibRel === undefined) return false;
  const minor = Number(/^cpython-3(\d+)t?$/.exec(tag ?? '')?.[1] ?? 0);
  const mod = stdlibRel === '' ? cache.module : `${stdlibRel}/${cache.module}`;
  return FROZEN_ALWAYS.includes(mod) || (minor >= 11 && FROZEN_3_11.includes(mod));
}

/** Where a directory is inside a stdlib: its path from the stdlib directory, and that stdlib's cache tag. */
type InStdlib = { rel: string; tag: string } | undefined;
type CacheVisit = (
  node: number,
  dirNode: number,
  cache: { module: string; tag: string },
  where: InStdlib,
) => void;

/** The cache tag of a stdlib directory's name ('python3.13t' -> 'cpython-313t'). */
function tagOf(name: string): string {
  const m = /^python(\d+)\.(\d+)(t?)$/.exec(name);
  return m === null ? '' : `cpython-${m[1]}${m[2]}${m[3]}`;
}

/** Every reachable cache in a __pycache__ directory, with where it is inside a stdlib when it is. */
function eachCache(tree: ImageTree, visit: CacheVisit, stdlibs: number[]): void {
  const stack: Array<[number, InStdlib]> = [[0, undefined]];
  while (stack.length > 0) {
    const [n, where] = stack.pop()!;
    const kids = tree.kids[n];
    if (kids === null || kids === undefined) continue;
    const isCacheDir = tree.name[n] === '__pycache__';
    for (const [name, k] of kids) {
      if (tree.kids[k] !== null) {
        if (stdlibs.includes(k)) stack.push([k, { rel: '', tag: tagOf(name) }]);
        else if (where === undefined || name === '__pycache__') stack.push([k, where]);
        else stack.push([k, { rel: where.rel === '' ? name : `${where.rel}/${name}`, tag: where.tag }]);
        continue;
      }
      const cache = isCacheDir ? parseCacheName(name) : undefined;
      if (cache !== undefined && tree.type[tree.inode[k]!] === N_FILE)
        visit(k, tree.parent[n]!, cache, where);
    }
  }
}

/** The interpreter's version: the stdlib directory's name, else pyvenv.cfg, else the caches' magic. */
function imagePython(read: ImageRead, roots: FoundRoot[]): ImagePython {
  const std = roots.find((r) => r.label === 'stdlib');
  const fromDir = std === undefined ? undefined : /python(\d+)\.(\d+)(t?)$/.exec(std.rel);
  if (fromDir !== undefined && fromDir !== null)
    return {
      version: `${fromDir[1]}.${fromDir[2]}`,
      cacheTag: `cpython-${fromDir[1]}${fromDir[2]}${fromDir[3]}`,
      from: `stdlib directory /${std!.rel}`,
    };
  for (const [, text] of read.text) {
    const m = /^version(?:_info)?\s*=\s*(\d+)\.(\d+)/m.exec(text.toString('utf8'));
    if (m !== null)
      return { version: `${m[1]}.${m[2]}`, cacheTag: `cpython-${m[1]}${m[2]}`, from: 'pyvenv.cfg' };
  }
  return magicVersion(read);
}

function magicVersion(read: ImageRead): ImagePython {
  const counts = new Map<number, number>();
  for (const [, head] of read.head)
    if (head.length >= 2) counts.set(head.readUInt16LE(0), (counts.get(head.readUInt16LE(0)) ?? 0) + 1);
  const best = [...counts].sort((a, b) => b[1] - a[1])[0];
  const info = best === undefined ? undefined : magicInfo(best[0]);
  if (info === undefined)
    return { version: null, cacheTag: null, from: 'not found (no stdlib, pyvenv.cfg or cache)' };
  return {
    version: info.version,
    cacheTag: info.cacheTag,
    from: `magic number ${info.number} of the caches`,
  };
}
