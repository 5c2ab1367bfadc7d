/**
 * What the zip layouts (Solutions 3 and 4) put into the archive and take off the disk, shared by the
 * estimates and by `plan`, so that a plan frees what its estimate says.
 *
 * zipimport loads `pkg/mod.pyc` (level-0 bytecode, checked against `pkg/mod.py`'s time and size in the
 * archive) or else `pkg/mod.py`, at every optimization level. A module goes into the archive with its source
 * and its level-0 cache (of the tree's dominant cache tag), and leaves the disk with its caches at every
 * level and tag. Left on disk (and named in the plan's notes, with the reason):
 * - os.py, getpath's landmark on 3.8-3.10, and pydoc.py, which reads its CSS beside itself; importlib
 *   (importlib.resources infers its caller by file names) and types.py (reload's loader path); from
 *   3.11 the modules the interpreter freezes (their source is looked for on disk);
 * - anything below site-packages or another sys.path directory (lib-dynload), and any path through a
 *   directory that is not a package (no `__init__`, or a name that is not an identifier, as `config-3.13-*`);
 * - top-level packages that hold other files than code (idlelib's icons, lib2to3's grammar, ensurepip's
 *   wheels, venv's scripts): their code reads those files beside `__file__` or through pkgutil, which an
 *   archive breaks; and top-level packages with code in a directory without `__init__` (a namespace
 *   portion, which a zipped package's `__path__` no longer reaches). The seed's data modules (encodings, pydoc_data) are zipped anyway: their own code reads
 *   no file, and `_pydoc.css`, which pydoc reads by path, stays where it is;
 * - sources that are not UTF-8 (PEP 263 coding cookies), with their top-level package: zipimport's
 *   get_source ignores the cookie, so their tracebacks would lose their lines;
 * - orphaned caches (no source beside them) and a legacy `mod.pyc` beside its source (both dead weight the
 *   importer never loads; not this layout's to delete). A legacy `mod.pyc` without source is zipped as is.
 */
import {
  K_BYTECODE0,
  K_BYTECODE2,
  K_DATA,
  K_EXTENSION,
  K_LEGACY,
  K_METADATA,
  K_SOURCE,
  K_SYMLINK,
} from '../model/kinds.js';
import { STDLIB_NAME } from '../python/stdlib.js';
import path from 'node:path';
import type { Classification } from '../model/classify.js';
import { parseCacheName } from '../python/layout.js';
import { displayName, TYPE_DIR } from '../scan/table.js';
import type { EstimateContext } from './context.js';

/** Top-level modules that stay on disk, and why. */
const KEEP_MODULES: Record<string, string> = {
  // Why: getpath of 3.8-3.10 finds the prefix by looking for lib/pythonX.Y/os.py (or os.pyc) on disk;
  // without it Python warns at every start and falls back to the compile-time prefix.
  os: "getpath's landmark (3.8-3.10 look for lib/pythonX.Y/os.py to find the prefix)",
  // Why: pydoc -b opens dirname(realpath(__file__))/pydoc_data/_pydoc.css, a path inside the archive once
  // pydoc.py is zipped.
  pydoc: 'reads pydoc_data/_pydoc.css beside its own file',
  // Why: importlib.resources._common._infer_caller compares a frame's co_filename (the .py) with its own
  // __file__ (the .pyc in the archive): files() without an anchor would answer importlib.resources' own
  // directory; and a package cannot be split between the archive and the disk.
  importlib: 'importlib.resources.files() infers its caller by comparing file names',
  // Why: importlib.reload of a module whose loader was removed looks for types.__loader__.path, which
  // a zipimporter lacks (CPython's test_importlib).
  types: 'importlib.reload falls back on its loader path, which zipimport has not',
  // Why: CPython's own tests (the judge of what users expect) open these files by their __file__
  // (test_linecache, test_argparse's encoding check): a path inside the archive is not a file.
  linecache: 'its tests read linecache.py by path',
  argparse: 'its tests read argparse.__file__ as text',
};

/**
 * Modules 3.11+ freezes into the interpreter: their __file__ still names the stdlib directory, where
 * inspect.getsource and linecache look for their source (test_inspect's getsource of _collections_abc).
 */
const FROZEN_3_11 = [
  '_collections_abc',
  '_sitebuiltins',
  'abc',
  'codecs',
  'genericpath',
  'io',
  'ntpath',
  'posixpath',
  'runpy',
  'site',
  'stat',
  'zipimport',
];

/** Solution 3's data-like modules. */
export const DATA_MODULES = ['encodings', 'pydoc_data'] as const;

export type ZipScope = 'data' | 'stdlib';

export interface ZipMember {
  /** The file whose bytes the member holds. */
  entry: number;
  /** Its name in the archive: 'pkg/mod.py', 'pkg/mod.pyc'. */
  name: string;
  /** For a level-0 cache, its source. */
  source?: number;
}

export interface ZipSelection {
  /** In archive order (sorted by name). */
  members: ZipMember[];
  /** 1 for each file the layout takes off the disk. */
  remove: Uint8Array;
  /** Top-level modules and packages left on disk, and why. */
  kept: Array<{ name: string; why: string }>;
  /** Sources not UTF-8 (a coding cookie zipimport would not honour): they and their package stay on disk. */
  notUtf8: string[];
}

/** Python identifiers (PEP 3131), close enough for file names: keywords are importable by importlib. */
const IDENTIFIER = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;

const NOT_CODE = new Set([K_DATA, K_EXTENSION, K_METADATA, K_SYMLINK]);

/** The cache tag most groups have (the tree's own interpreter), or null without caches. */
export function dominantTag(c: Classification): string | null {
  const count = new Map<number, number>();
  for (let g = 0; g < c.bytecode.count; g++)
    count.set(c.bytecode.tag[g]!, (count.get(c.bytecode.tag[g]!) ?? 0) + 1);
  let best = -1;
  let most = 0;
  for (const [tag, n] of count) if (n > most) [best, most] = [tag, n];
  return best === -1 ? null : c.tags[best]!;
}

const text = (t: EstimateContext['t'], i: number): string => {
  const v = t.name[i]!;
  return typeof v === 'string' ? v : v.toString('latin1');
};

/** Where each entry sits among packages; parents come before children in the table. */
interface Packages {
  /** 1 when every directory from the root down to it is a package (the root itself counts). */
  importable: Uint8Array;
  /** The entry right below the root on each entry's path. */
  topDir: Int32Array;
  /** 1 for a top-level entry holding other files than code. */
  dataTop: Uint8Array;
  /** 1 for a top-level entry holding code in a directory that is not a package. */
  outsideTop: Uint8Array;
  /**
   * 1 for the sys.path directories whose modules the layouts take: the stdlib directory (pythonX.Y with
   * os.py) where the roots hold exactly one, else the roots themselves.
   */
  base: Uint8Array;
}

/** Stdlib directories (pythonX.Y holding os.py or a sourceless os.pyc) at or below the roots. */
export function stdlibDirs(t: EstimateContext['t'], c: Classification): Uint8Array {
  const out = new Uint8Array(t.count);
  for (let i = 0; i < t.count; i++) {
    const k = c.kind[i]!;
    const name = text(t, i);
    const p = t.parent[i]!;
    if (p === -1 || !((k === K_SOURCE && name === 'os.py') || (k === K_LEGACY && name === 'os.pyc')))
      continue;
    if (STDLIB_NAME.test(path.basename(text(t, p)))) out[p] = 1;
  }
  return out;
}

/**
 * The layouts' bases: the stdlib directory at or below the roots when there is exactly one (the layouts make
 * one archive: several stdlibs side by side keep the roots as bases, where nothing is a package), else the
 * roots.
 */
function bases(t: EstimateContext['t'], c: Classification): Uint8Array {
  const std = stdlibDirs(t, c);
  if (std.indexOf(1) !== -1 && std.indexOf(1) === std.lastIndexOf(1)) return std;
  const roots = new Uint8Array(t.count);
  for (let i = 0; i < t.count; i++) if (t.parent[i] === -1) roots[i] = 1;
  return roots;
}

/**
 * Where a stdlib archive goes, relative to the root, when the stdlib is a directory below it
 * (`python313.zip` for ROOT/python3.13), or undefined.
 */
export function stdlibArchiveBelow(ctx: EstimateContext): string | undefined {
  const std = stdlibDirs(ctx.t, ctx.c);
  const i = std.indexOf(1);
  if (i === -1 || i !== std.lastIndexOf(1) || ctx.t.parent[i] === -1) return undefined;
  const m = STDLIB_NAME.exec(text(ctx.t, i))!;
  return path.posix.join(ctx.t.relativePath(i), `../python${m[1]}${m[2]}${m[3]}.zip`);
}

function packages(ctx: EstimateContext): Packages {
  const { t, c } = ctx;
  const n = t.count;
  // Packages: directories with an __init__ source or legacy .pyc.
  const hasInit = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = c.kind[i]!;
    const name = text(t, i);
    if ((k === K_SOURCE && name === '__init__.py') || (k === K_LEGACY && name === '__init__.pyc'))
      hasInit[t.parent[i]!] = 1;
  }
  const pk: Packages = {
    importable: new Uint8Array(n),
    topDir: new Int32Array(n).fill(-1),
    dataTop: new Uint8Array(n),
    outsideTop: new Uint8Array(n),
    base: bases(t, c),
  };
  const { importable, topDir, base } = pk;
  for (let i = 0; i < n; i++) {
    const p = t.parent[i]!;
    if (base[i] === 1) {
      importable[i] = 1;
      continue;
    }
    // Outside every base (beside a stdlib found below the root): nothing the layouts take.
    if (p === -1 || (base[p] === 0 && topDir[p] === -1)) continue;
    topDir[i] = base[p] === 1 ? i : topDir[p]!;
    if (t.type[i] === TYPE_DIR)
      importable[i] =
        importable[p] === 1 && hasInit[i] === 1 && IDENTIFIER.test(text(t, i)) && ctx.inSitePackages[i] === 0
          ? 1
          : 0;
    else if (NOT_CODE.has(c.kind[i]!) && topDir[i] !== i) pk.dataTop[topDir[i]!] = 1;
    else if ((c.kind[i] === K_SOURCE || c.kind[i] === K_LEGACY) && importable[p] === 0 && topDir[i] !== i)
      pk.outsideTop[topDir[i]!] = 1;
  }
  return pk;
}

/** An entry's path relative to its base, as the archive names it. */
function baseRelative(t: EstimateContext['t'], pk: Packages, i: number): string {
  const parts: string[] = [];
  for (let j = i; j !== -1 && pk.base[j] === 0; j = t.parent[j]!) parts.push(displayName(t.name[j]!));
  return parts.reverse().join('/');
}

/** The top-level module an entry belongs to, by name. */
function topName(ctx: EstimateContext, pk: Packages, i: number): string {
  const top = pk.topDir[i]!;
  const name = text(ctx.t, top);
  return ctx.t.type[top] === TYPE_DIR ? name : name.replace(/\.pyc?$/, '');
}

/** Caches by (directory of the source, module name). */
function cachesByModule(ctx: EstimateContext): Map<string, number[]> {
  const { t, c } = ctx;
  const caches = new Map<string, number[]>();
  for (let g = 0; g < c.bytecode.count; g++) {
    for (let l = 0; l < 3; l++) {
      const e = c.bytecode.levels[3 * g + l]!;
      if (e === -1) continue;
      const mod = parseCacheName(text(t, e))?.module;
      if (mod === undefined) continue;
      const key = `${t.parent[t.parent[e]!]}/${mod}`;
      const list = caches.get(key) ?? [];
      list.push(e);
      caches.set(key, list);
    }
  }
  return caches;
}

function level0OfTag(c: Classification, tag: string | null): Set<number> {
  const tagIndex = tag === null ? -1 : c.tags.indexOf(tag);
  const out = new Set<number>();
  for (let g = 0; g < c.bytecode.count; g++) {
    const e = c.bytecode.levels[3 * g]!;
    if (e !== -1 && c.bytecode.tag[g] === tagIndex) out.add(e);
  }
  return out;
}

/**
 * The code files the layout may take, in scope; and the sources that are not UTF-8, whose top-level
 * package stays (`keepTop`).
 */
function candidates(
  ctx: EstimateContext,
  scope: ZipScope,
  pk: Packages,
): { candidates: number[]; notUtf8: string[]; keepTop: Uint8Array } {
  const { t, c } = ctx;
  const out = { candidates: [] as number[], notUtf8: [] as string[], keepTop: new Uint8Array(t.count) };
  for (let i = 0; i < t.count; i++) {
    const k = c.kind[i]!;
    if (k !== K_SOURCE && k !== K_LEGACY) continue;
    const p = t.parent[i]!;
    if (p === -1 || ctx.base[i] === 0 || pk.importable[p] !== 1 || ctx.inSitePackages[i] === 1) continue;
    const stem = k === K_SOURCE ? text(t, i).slice(0, -3) : text(t, i).slice(0, -4);
    if (!IDENTIFIER.test(stem)) continue;
    if (scope === 'data' && !(DATA_MODULES as readonly string[]).includes(topName(ctx, pk, i))) continue;
    out.candidates.push(i);
    // Why: zipimport's get_source decodes UTF-8 and ignores coding cookies (3.8-3.13): the module would
    // import, but its tracebacks would lose their lines. It stays on disk, and so does its top-level
    // package: a module on disk is not found in a package that was zipped.
    if (k === K_SOURCE && !ctx.isUtf8(i)) {
      out.notUtf8.push(t.relativePath(i));
      out.keepTop[pk.topDir[i]!] = 1;
    }
  }
  return out;
}

/** Why the top-level module of entry i stays on disk, or undefined. */
function keepWhy(
  ctx: EstimateContext,
  pk: Packages,
  keepTop: Uint8Array,
  i: number,
  frozen: boolean,
): string | undefined {
  const top = pk.topDir[i]!;
  const name = topName(ctx, pk, i);
  if (keepTop[top] === 1) return 'not UTF-8';
  if (Object.hasOwn(KEEP_MODULES, name)) return KEEP_MODULES[name];
  if (frozen && FROZEN_3_11.includes(name))
    return 'frozen in the interpreter: its source is looked for on disk';
  if (top === i) return undefined;
  if (pk.outsideTop[top] === 1)
    return 'code in directories without __init__, not found once the package is zipped';
  if (pk.dataTop[top] === 1 && !(DATA_MODULES as readonly string[]).includes(name))
    return 'other files than code, which its code may read beside __file__';
  return undefined;
}

export function zipSelection(ctx: EstimateContext, scope: ZipScope, cacheTag?: string | null): ZipSelection {
  const { t, c } = ctx;
  const pk = packages(ctx);
  const caches = cachesByModule(ctx);
  const tag = cacheTag === undefined ? dominantTag(c) : cacheTag;
  const level0 = level0OfTag(c, tag);
  const frozen = Number(/^cpython-3(\d+)$/.exec(tag ?? '')?.[1] ?? 0) >= 11;
  const sources = new Set<string>();
  for (let i = 0; i < t.count; i++)
    if (c.kind[i] === K_SOURCE) sources.add(`${t.parent[i]}/${text(t, i).slice(0, -3)}`);
  const found = candidates(ctx, scope, pk);
  const kept = new Map<string, string>();
  const members: ZipMember[] = [];
  const remove = new Uint8Array(t.count);
  for (const i of found.candidates) {
    const why = keepWhy(ctx, pk, found.keepTop, i, frozen);
    if (why !== undefined) {
      kept.set(topName(ctx, pk, i), why);
      continue;
    }
    const p = t.parent[i]!;
    const rel = baseRelative(t, pk, i);
    if (c.kind[i] === K_LEGACY) {
      if (sources.has(`${p}/${text(t, i).slice(0, -4)}`)) continue;
      members.push({ entry: i, name: rel });
      remove[i] = 1;
      continue;
    }
    members.push({ entry: i, name: rel });
    remove[i] = 1;
    for (const e of caches.get(`${p}/${text(t, i).slice(0, -3)}`) ?? []) {
      if (c.kind[e]! < K_BYTECODE0 || c.kind[e]! > K_BYTECODE2) continue;
      remove[e] = 1;
      if (level0.has(e)) members.push({ entry: e, name: `${rel}c`, source: i });
    }
  }
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    members,
    remove,
    kept: [...kept].map(([name, why]) => ({ name, why })).sort((a, b) => (a.name < b.name ? -1 : 1)),
    notUtf8: found.notUtf8,
  };
}
