/**
 * The seeds' ways to shrink Python (Solutions 0-10 of 001, Options 1-2 and "Minimal 2" of 000), each with the
 * constraints of 001 it risks and an estimate computed on the real bytes of the analyzed tree.
 *
 * The constraints (001, "Constraints"): (1) Python users' expectations, (2) the distribution's users'
 * expectations, (3) packagers' expectations, (4) no significantly larger default footprint, (5) no
 * significant divergence from upstream.
 */
import type { Bytes } from '../model/footprint.js';
import { type ZipScope, zipSelection } from './zip.js';
import { K_BYTECODE0, K_BYTECODE1, K_BYTECODE2, K_SOURCE } from '../model/kinds.js';
import { parseCacheName } from '../python/layout.js';
import { TYPE_DIR } from '../scan/table.js';
import {
  add,
  DEFLATE_LEVEL,
  type EstimateContext,
  GZIP_OVERHEAD,
  type Subset,
  sub,
  ZERO,
  ZIP_CENTRAL_HEADER,
  ZIP_END_RECORD,
  ZIP_LOCAL_HEADER,
} from './context.js';

export interface Risk {
  /** The constraint of seed 001 that the strategy risks, 1 to 5. */
  constraint: 1 | 2 | 3 | 4 | 5;
  why: string;
}

export interface Estimate {
  saved: Bytes;
  /** What the estimate assumed or left out, for people. */
  note?: string;
}

export interface Strategy {
  id: string;
  title: string;
  /** Where in the seeds it comes from. */
  seedRef: string;
  risks: Risk[];
  /** Whether pyfloppy can carry it out on an unmodified CPython (the plan/apply commands). */
  actionable: boolean;
  estimate(ctx: EstimateContext): Estimate;
}

/** PEP 594's dead batteries (the modules it removed from 3.11-3.13, and those removed before it landed). */
export const DEAD_BATTERIES = [
  'aifc', 'asynchat', 'asyncore', 'audioop', 'binhex', 'cgi', 'cgitb', 'chunk', 'crypt', '_crypt', 'formatter',
  'imghdr', 'imp', 'macpath', 'mailcap', 'msilib', '_msi', 'nis', 'nntplib', 'ossaudiodev', 'parser', 'pipes',
  'smtpd', 'sndhdr', 'spwd', 'sunau', 'symbol', 'telnetlib', 'uu', 'xdrlib',
] as const; // prettier-ignore

/** Solution 2's developer modules. */
export const DEV_MODULES = [
  'pydoc_data',
  'distutils',
  'ensurepip',
  'lib2to3',
  'unittest',
  'pydoc',
  'doctest',
  'venv',
] as const;

/**
 * The python3-libs-like subset of the seeds: the stdlib without tests, IDLE, tkinter and turtle (their own
 * packages in Fedora), without the static library and Makefile of config-* (python3-devel) and without
 * site-packages (not the stdlib).
 */
export const PYTHON3_LIBS: Subset = {
  excludeModules: ['test', 'idlelib', 'tkinter', '_tkinter', 'turtle', 'turtledemo', 'config-*'],
  excludeTests: true,
  excludeSitePackages: true,
};

const isBytecode = (k: number): boolean => k >= K_BYTECODE0 && k <= K_BYTECODE2;

function inModules(ctx: EstimateContext, names: readonly string[]): (i: number) => boolean {
  const wanted = new Set<number>();
  ctx.c.topNames.forEach((n, k) => {
    if (names.includes(n)) wanted.add(k);
  });
  return (i) => wanted.has(ctx.c.top[i]!);
}

/** Sources that have a level-0 cache beside them in __pycache__ (same module, any tag). */
function sourcesWithCache(ctx: EstimateContext): Set<number> {
  const { t, c } = ctx;
  const cached = new Set<string>();
  for (let g = 0; g < c.bytecode.count; g++) {
    const l0 = c.bytecode.levels[3 * g]!;
    if (l0 === -1) continue;
    const pycache = t.parent[l0]!;
    const name = t.name[l0]!;
    const mod = parseCacheName(typeof name === 'string' ? name : name.toString('latin1'))?.module;
    if (mod !== undefined) cached.add(`${t.parent[pycache]}/${mod}`);
  }
  const out = new Set<number>();
  for (let i = 0; i < t.count; i++) {
    if (c.kind[i] !== K_SOURCE) continue;
    const name = t.name[i] as string;
    if (cached.has(`${t.parent[i]}/${name.slice(0, -3)}`)) out.add(i);
  }
  return out;
}

/** Removing some files and the directories they leave empty. */
function removeWithDirs(
  ctx: EstimateContext,
  remove: (i: number) => boolean,
  leaves?: (i: number) => boolean,
  receives?: ReadonlySet<number>,
): Bytes {
  const gone = ctx.emptiedDirectories((i) => remove(i) || (leaves?.(i) ?? false), receives);
  return ctx.freed((i) => remove(i) || gone[i] === 1);
}

/** Level-0 caches to move beside their sources (the "sourceless" layouts): those whose source goes. */
function sourcelessLayout(ctx: EstimateContext): { removed: Bytes; sources: Set<number>; uncached: number } {
  const { c } = ctx;
  const sources = sourcesWithCache(ctx);
  let uncached = 0;
  for (let i = 0; i < ctx.t.count; i++)
    if (c.kind[i] === K_SOURCE && ctx.base[i] === 1 && !sources.has(i)) uncached++;
  // Sources with a cache go; levels 1 and 2 go; level 0 moves out of __pycache__ (its inode stays).
  const remove = (i: number): boolean =>
    sources.has(i) || c.kind[i] === K_BYTECODE1 || c.kind[i] === K_BYTECODE2;
  const moves = (i: number): boolean => c.kind[i] === K_BYTECODE0;
  // A level-0 cache lands in the directory above its __pycache__, which therefore stays.
  const receives = new Set<number>();
  for (let i = 0; i < ctx.t.count; i++) if (moves(i)) receives.add(ctx.t.parent[ctx.t.parent[i]!]!);
  return { removed: removeWithDirs(ctx, remove, moves, receives), sources, uncached };
}

function dedupPairs(ctx: EstimateContext, pairs: Array<'01' | '12' | '02'>): Bytes {
  const { t, c, identity } = ctx;
  const out = { apparentBytes: 0, allocatedBytes: 0 };
  for (let g = 0; g < c.bytecode.count; g++) {
    const bits = identity.pairBits[g]!;
    const lv = (l: number) => c.bytecode.levels[3 * g + l]!;
    for (const p of pairs) {
      const bit = p === '01' ? 1 : p === '12' ? 2 : 4;
      const later = p === '01' ? lv(1) : lv(2);
      // Identical and not yet one inode (the linked bit is the same bit shifted by 3).
      if ((bits & bit) === 0 || (bits & (bit << 3)) !== 0 || later === -1) continue;
      if (ctx.base[later] === 0 || t.nlink[later]! > 1) continue;
      out.apparentBytes += t.size[later]!;
      out.allocatedBytes += t.blocks[later]! * 512;
    }
  }
  return out;
}

/**
 * The zip layouts: the modules zipSelection picks go into one archive of sources and level-0 bytecode (what
 * zipimport loads); their files leave the disk, with the directories left empty; the archive comes.
 */
function zipLayout(ctx: EstimateContext, scope: ZipScope): Bytes {
  const sel = zipSelection(ctx, scope);
  const removed = removeWithDirs(ctx, (i) => sel.remove[i] === 1);
  if (sel.members.length === 0) return removed;
  const names = new Map(sel.members.map((m) => [m.entry, m.name]));
  return sub(
    removed,
    ctx.zipOf(
      sel.members.map((m) => m.entry),
      (i) => names.get(i)!,
    ),
  );
}

const DROP_OPT_RISKS: Risk[] = [
  { constraint: 1, why: 'with -O/-OO, imports compile from source: slower starts' },
  { constraint: 2, why: 'Python then tries to write the missing caches: SELinux denials, root-owned litter' },
];

export const STRATEGIES: readonly Strategy[] = [
  {
    id: 'status-quo',
    title: 'Status quo',
    seedRef: '001 Solution 0',
    risks: [{ constraint: 1, why: 'tkinter, IDLE and tests already live in optional packages' }],
    actionable: true,
    estimate: () => ({ saved: ZERO }),
  },
  {
    id: 'dead-batteries',
    title: 'Remove the dead batteries (PEP 594)',
    seedRef: '001 Solution 1',
    risks: [
      { constraint: 1, why: 'code importing these modules breaks' },
      { constraint: 3, why: 'no metadata says which packages need them' },
      { constraint: 5, why: 'must happen upstream (it did, in 3.11-3.13)' },
    ],
    actionable: false,
    estimate: (ctx) => ({
      saved: ctx.freed(inModules(ctx, DEAD_BATTERIES)),
      note: 'zero where they are already gone',
    }),
  },
  {
    id: 'dev-modules',
    title: 'Move developer modules to a sub-package',
    seedRef: '001 Solution 2',
    risks: [
      { constraint: 1, why: 'users expect venv, unittest, pydoc to work' },
      { constraint: 3, why: 'runtime users of lib2to3, distutils, ... are not tracked' },
    ],
    actionable: true,
    estimate: (ctx) => ({
      saved: ctx.freed(inModules(ctx, DEV_MODULES)),
      note: 'ensurepip counts with its bundled wheels',
    }),
  },
  {
    id: 'zip-data',
    title: 'Zip the data-like modules (encodings, pydoc_data)',
    seedRef: '001 Solution 3',
    risks: [
      { constraint: 2, why: 'zipped modules cannot be hot-patched' },
      { constraint: 1, why: 'code reading files beside __file__ breaks' },
    ],
    actionable: true,
    estimate: (ctx) => ({
      saved: zipLayout(ctx, 'data'),
      note: 'one zip with sources and level-0 bytecode, deflated (level 6); data files stay',
    }),
  },
  {
    id: 'zip-stdlib',
    title: 'Zip the pure-Python stdlib (pythonXY.zip)',
    seedRef: '001 Solution 4',
    risks: [
      { constraint: 1, why: 'code relying on __file__ paths and data files breaks' },
      { constraint: 2, why: 'no hot-patching; slower imports' },
      { constraint: 5, why: 'not a layout upstream supports on Linux' },
    ],
    actionable: true,
    estimate: (ctx) => ({
      saved: zipLayout(ctx, 'stdlib'),
      note: 'sources and level-0 bytecode in one zip; site-packages, extensions, data and packages holding data stay',
    }),
  },
  {
    id: 'no-bytecode',
    title: 'Ship sources only, no bytecode caches (Option 1)',
    seedRef: '001 Solution 5; 000 Option 1',
    risks: [
      { constraint: 1, why: 'every import compiles from source: slower starts' },
      {
        constraint: 2,
        why: 'CPython ignores __dont_write_bytecode__ and tries to write caches (SELinux, litter)',
      },
      { constraint: 5, why: 'the marker needs an upstream change' },
    ],
    actionable: true,
    estimate: (ctx) => ({
      saved: ctx.freed((i) => isBytecode(ctx.c.kind[i]!)),
      note: 'empty __pycache__/__dont_write_bytecode__ markers take no blocks',
    }),
  },
  {
    id: 'drop-optimized',
    title: 'Drop the optimized caches (levels 1 and 2)',
    seedRef: '001 Solution 6',
    risks: DROP_OPT_RISKS,
    actionable: true,
    estimate: (ctx) => ({
      saved: removeWithDirs(ctx, (i) => ctx.c.kind[i] === K_BYTECODE1 || ctx.c.kind[i] === K_BYTECODE2),
    }),
  },
  {
    id: 'drop-opt2',
    title: 'Drop the level-2 caches',
    seedRef: '001 Solution 6 ("level 2 is already broken")',
    risks: [{ constraint: 1, why: 'with -OO, imports compile from source and Python tries to write caches' }],
    actionable: true,
    estimate: (ctx) => ({ saved: removeWithDirs(ctx, (i) => ctx.c.kind[i] === K_BYTECODE2) }),
  },
  {
    id: 'strip-tests',
    title: 'Remove the test code (test, tests, idle_test packages)',
    seedRef: '001 Solution 0 (tests already live in an optional package)',
    risks: [{ constraint: 1, why: 'the test suite (python -m test) is gone' }],
    actionable: true,
    estimate: (ctx) => ({
      saved: removeWithDirs(ctx, (i) => ctx.c.test[i] === 1 && ctx.t.type[i] !== TYPE_DIR),
    }),
  },
  {
    id: 'sourceless',
    title: 'Level-0 .pyc in place of sources, nothing else (Minimal 2)',
    seedRef: '001 Solution 7; 000 Minimal 2',
    risks: [
      { constraint: 1, why: 'tracebacks show no source lines; -O/-OO run unoptimized bytecode' },
      { constraint: 2, why: 'sources can be neither read nor hot-patched' },
    ],
    actionable: true,
    estimate: (ctx) => {
      const { removed, uncached } = sourcelessLayout(ctx);
      return {
        saved: removed,
        ...(uncached > 0 ? { note: `${uncached} sources without a level-0 cache are kept` } : {}),
      };
    },
  },
  {
    id: 'compress-pyc',
    title: 'Compress each .pyc',
    seedRef: '001 Solution 8',
    risks: [
      { constraint: 5, why: 'needs a compressed-pyc flag in CPython' },
      { constraint: 1, why: 'imports decompress: slower starts' },
    ],
    actionable: false,
    estimate: (ctx) => {
      const { t, c } = ctx;
      const saved = { apparentBytes: 0, allocatedBytes: 0 };
      for (let i = 0; i < t.count; i++) {
        if (ctx.base[i] === 0 || ctx.fp.counted[i] === 0 || !isBytecode(c.kind[i]!)) continue;
        // As the seed measured it: each file zipped on its own.
        const name = Buffer.byteLength(t.name[i] as string);
        const size =
          ZIP_LOCAL_HEADER +
          ZIP_CENTRAL_HEADER +
          ZIP_END_RECORD +
          2 * name +
          ctx.deflatedSize(i, DEFLATE_LEVEL);
        saved.apparentBytes += t.size[i]! - size;
        saved.allocatedBytes += t.blocks[i]! * 512 - ctx.allocation(size);
      }
      return { saved, note: 'each .pyc zipped on its own, deflate level 6' };
    },
  },
  {
    id: 'dedup',
    title: 'Hardlink identical caches across levels',
    seedRef: '001 Solution 9; 002',
    risks: [],
    actionable: true,
    estimate: (ctx) => ({
      saved: dedupPairs(ctx, ['01', '12', '02']),
      note: 'the pairs compileall --hardlink-dupes links',
    }),
  },
  {
    id: 'no-python',
    title: 'No Python at all',
    seedRef: '001 Solution 10',
    risks: [
      { constraint: 2, why: 'users expect Python (Ansible, scripts) to be there' },
      { constraint: 1, why: 'nothing Python runs' },
    ],
    actionable: false,
    estimate: (ctx) => ({ saved: ctx.total, note: 'for scale' }),
  },
  {
    id: 'pysources',
    title: 'Level-0 .pyc in place of sources, sources compressed in __pysources__ (Option 2)',
    seedRef: '000 Option 2',
    risks: [
      {
        constraint: 1,
        why: 'CPython does not read __pysources__: tracebacks lack source lines; -O/-OO run level 0',
      },
      { constraint: 2, why: 'edits to sources are not picked up' },
      { constraint: 5, why: '__pysources__ needs an upstream change to be useful' },
    ],
    actionable: true,
    estimate: (ctx) => {
      const { removed, sources, uncached } = sourcelessLayout(ctx);
      let added = ZERO;
      const dirs = new Set<number>();
      for (const i of sources) {
        if (ctx.base[i] === 0) continue;
        added = add(added, ctx.newFile(GZIP_OVERHEAD + ctx.deflatedSize(i, DEFLATE_LEVEL)));
        dirs.add(ctx.t.parent[i]!);
      }
      // One __pysources__ directory per package directory that had sources.
      added = add(added, {
        apparentBytes: dirs.size * ctx.blockSize,
        allocatedBytes: dirs.size * ctx.blockSize,
      });
      return {
        saved: sub(removed, added),
        note: `sources gzip-compressed (level 6, the gzip command's default)${uncached > 0 ? `; ${uncached} sources without a level-0 cache are kept` : ''}`,
      };
    },
  },
  {
    id: 'py-and-pyc0',
    title: 'Ship .py and non-optimized .pyc',
    seedRef: '000 Size impact',
    risks: DROP_OPT_RISKS,
    actionable: true,
    estimate: (ctx) => ({
      saved: ctx.freed((i) => ctx.c.kind[i] === K_BYTECODE1 || ctx.c.kind[i] === K_BYTECODE2),
    }),
  },
  {
    id: 'drop-opt2+dedup',
    title: 'Drop level 2, hardlink identical levels 0 and 1',
    seedRef: '001 Solutions 6 + 9',
    risks: [{ constraint: 1, why: 'with -OO, imports compile from source and Python tries to write caches' }],
    actionable: true,
    estimate: (ctx) => ({
      saved: add(
        ctx.freed((i) => ctx.c.kind[i] === K_BYTECODE2),
        dedupPairs(ctx, ['01']),
      ),
    }),
  },
  {
    id: 'drop-optimized+dedup',
    title: 'Drop levels 1 and 2, hardlink what is left',
    seedRef: '001 Solutions 6 + 9',
    risks: DROP_OPT_RISKS,
    actionable: true,
    estimate: (ctx) => ({
      saved: ctx.freed((i) => ctx.c.kind[i] === K_BYTECODE1 || ctx.c.kind[i] === K_BYTECODE2),
      note: 'with one level left nothing is identical across levels: the same as drop-optimized',
    }),
  },
];
