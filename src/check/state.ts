/**
 * What check's rules read: the tree's directories (sys.path entry, importability, sources and what shadows
 * a legacy .pyc), the interpreter (given or inferred), one inspection per distinct cache content, and a
 * verdict per cache and legacy file saying how far import gets with it. Built once, in table order, so
 * the problems it meets come in the order the files are read.
 */
import path from 'node:path';
import { K_DIRECTORY, K_EXTENSION, K_LEGACY, K_SOURCE, K_SYMLINK } from '../model/kinds.js';
import { PyfloppyError } from '../errors.js';
import type { Model } from '../model/model.js';
import { compileErrors } from '../python/compiles.js';
import type { InterpreterInfo } from '../python/interpreter.js';
import { extensionModuleName, parseCacheName } from '../python/layout.js';
import { magicInfo } from '../python/pyc.js';
import type { LazyPool, WorkerReply } from '../scan/pool.js';
import type { ScanProblem } from '../scan/scan.js';
import { type EntryName, type EntryTable, pathOf, TYPE_DIR, TYPE_FILE } from '../scan/table.js';
import type { CheckInterpreter, CheckOptions } from './check.js';
import { type Inspection, inspectPyc } from './inspect.js';

/** Caches per worker request, and the fewest worth sending to workers at all. */
const INSPECT_BATCH = 64;
const POOL_MIN_INSPECTIONS = 256;

export const IDENTIFIER = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;

export type Parsed = Extract<Inspection, { ok: true }>;

/** How far import gets with a cache in __pycache__. */
export interface CacheVerdict {
  entry: number;
  tag: string;
  /** Not parsed (a bad header, or unreadable), another tag, a magic not its tag's, another interpreter's
   * magic, no source, or a source to compare with. */
  state: 'unparsed' | 'foreign-tag' | 'bad-magic' | 'foreign-magic' | 'orphan' | 'sourced';
  x?: Parsed;
}

/** How far import gets with a legacy .pyc/.pyo file. */
export interface LegacyVerdict {
  entry: number;
  state: 'in-pycache' | 'pyo' | 'shadowed' | 'unparsed' | 'foreign-magic' | 'loaded';
  x?: Parsed;
}

export function nameOf(t: EntryTable, i: number): string {
  const raw: EntryName = t.name[i]!;
  return typeof raw === 'string' ? raw : raw.toString('latin1');
}

/** The path of `name` in directory entry `dir`, as bytes when the directory's path or the name needs them. */
function childPath(t: EntryTable, dir: number, name: string, latin1: boolean): string | Buffer {
  const d = pathOf(t, dir);
  if (typeof d === 'string' && !latin1) return `${d}/${name}`;
  return Buffer.concat([Buffer.from(d), Buffer.from(`/${name}`, latin1 ? 'latin1' : 'utf8')]);
}

function magicOfHex(hex: string | null): number | null {
  if (hex === null || hex.length < 4) return null;
  return Buffer.from(hex.slice(0, 4), 'hex').readUInt16LE(0);
}

function versionOfTag(tag: string): string | null {
  const m = /^cpython-(\d)(\d+)$/.exec(tag);
  return m === null ? null : `${m[1]}.${m[2]}`;
}

export function describeMagic(m: number): string {
  const info = magicInfo(m);
  return info === undefined ? `magic ${m}` : `magic ${m} (Python ${info.version})`;
}

async function inspectAll(
  items: Array<[string | Buffer, string | Buffer | null]>,
  lazyPool: LazyPool,
): Promise<Inspection[]> {
  const pool = items.length >= POOL_MIN_INSPECTIONS ? lazyPool.get() : undefined;
  if (pool === undefined) return items.map(([pyc, src]) => inspectPyc(pyc, src));
  return pool.mapBatches(
    items,
    INSPECT_BATCH,
    (id, batch) => ({ op: 'inspect', id, items: batch }),
    (r: Extract<WorkerReply, { op: 'inspect' }>) => r.inspections,
  );
}

export class CheckState {
  readonly t: EntryTable;
  readonly c: Model['classification'];
  readonly g: Model['classification']['bytecode'];
  /** Per entry: the sys.path entry it is under; per directory: whether import can reach it. */
  readonly sysEntry: Int32Array;
  readonly importable: Uint8Array;
  /** `${dir}\0${stem}` -> entry of stem.py (file or symlink). */
  readonly sources = new Map<string, number>();
  /** `${dir}\0${stem}`: a source, extension or package named stem. */
  readonly shadowing = new Set<string>();
  sourceCount = 0;
  interp!: CheckInterpreter;
  treeTagIdx = -1;
  /** Cache entry -> its source (directory and file name). */
  readonly expectedSource = new Map<number, { dir: number; file: string }>();
  /** `${srcDir}\0${module}` -> group with the tree's tag. */
  readonly bySource = new Map<string, number>();
  readonly items: Array<[string | Buffer, string | Buffer | null]> = [];
  /** The same items as entries: the cache, its source (-1: absent, -2: none to look for). */
  readonly itemEntries: Array<[number, number]> = [];
  /** Entry -> index into items (-1: not inspected). */
  readonly rep: Int32Array;
  inspections: Inspection[] = [];
  readonly legacy: number[] = [];
  cacheCount = 0;
  symlinkedSources = 0;
  readonly problems: ScanProblem[];
  /** Caches that did not parse (but could be read), with the parser's message. */
  readonly badHeaders: Array<{ entry: number; message: string }> = [];
  readonly caches: CacheVerdict[] = [];
  readonly legacyVerdicts: LegacyVerdict[] = [];

  constructor(
    readonly model: Model,
    readonly options: CheckOptions,
  ) {
    this.t = model.scan.table;
    this.c = model.classification;
    this.g = this.c.bytecode;
    this.sysEntry = new Int32Array(this.t.count);
    this.importable = new Uint8Array(this.t.count);
    this.rep = new Int32Array(this.t.count).fill(-1);
    this.problems = [...model.problems];
  }

  get treeTag(): string | null {
    return this.interp.cacheTag;
  }

  get treeMagic(): number | null {
    return this.interp.magic;
  }

  /** Build everything the rules read: directories, interpreter, inspections, verdicts. */
  async build(pool: LazyPool): Promise<this> {
    this.mapDirectories();
    this.interp = this.givenOrInferred();
    this.treeTagIdx = this.treeTag === null ? -1 : this.c.tags.indexOf(this.treeTag);
    this.listCaches();
    this.listLegacy();
    const image = this.t.contents?.inspect?.bind(this.t.contents);
    // An image's caches were inspected while its layers were read: joined here with their sources' state.
    this.inspections =
      image === undefined
        ? await inspectAll(this.items, pool)
        : this.itemEntries.map(([cache, source]) => image(cache, source));
    this.inferMagic();
    for (let k = 0; k < this.g.count; k++) {
      const tag = this.c.tags[this.g.tag[k]!]!;
      for (let l = 0; l < 3; l++) {
        const e = this.g.levels[3 * k + l]!;
        if (e !== -1) this.caches.push(this.cacheVerdict(e, tag));
      }
    }
    for (const i of this.legacy) this.legacyVerdicts.push(this.legacyVerdict(i));
    return this;
  }

  /**
   * Per directory: the sys.path entry it is under, and whether import can reach it (every package name an
   * identifier from that entry down: 'config-3.13-x86_64-linux-gnu' cannot be imported, so never cached);
   * sources, and what shadows a legacy .pyc.
   */
  private mapDirectories(): void {
    const { t, c } = this;
    for (let i = 0; i < t.count; i++) {
      const p = t.parent[i]!;
      if (p === -1) {
        this.sysEntry[i] = i;
        this.importable[i] = 1;
        continue;
      }
      const name = nameOf(t, i);
      const k = c.kind[i]!;
      if (t.type[i] === TYPE_DIR) {
        const entry = k === K_DIRECTORY && c.top[i] === -1 && name !== '__pycache__';
        this.sysEntry[i] = entry ? i : this.sysEntry[p]!;
        this.importable[i] = entry || (this.importable[p] === 1 && IDENTIFIER.test(name)) ? 1 : 0;
        continue;
      }
      this.sysEntry[i] = this.sysEntry[p]!;
      if ((k === K_SOURCE || k === K_SYMLINK) && name.endsWith('.py')) {
        this.sources.set(`${p}\0${name.slice(0, -3)}`, i);
        this.shadow(p, name.slice(0, -3));
        if (k === K_SOURCE) this.sourceCount++;
      } else if (k === K_EXTENSION) this.shadow(p, extensionModuleName(name)!);
    }
  }

  /** A module named `stem` in `dir` (and, for __init__, its package in the directory above). */
  private shadow(dir: number, stem: string): void {
    this.shadowing.add(`${dir}\0${stem}`);
    const up = this.t.parent[dir]!;
    if (stem === '__init__' && up !== -1) this.shadowing.add(`${up}\0${nameOf(this.t, dir)}`);
  }

  /** The tree's interpreter: given, or the dominant cache tag (by module groups). */
  private givenOrInferred(): CheckInterpreter {
    const { c, g } = this;
    const tagGroups = new Array<number>(c.tags.length).fill(0);
    for (let k = 0; k < g.count; k++) tagGroups[g.tag[k]!]!++;
    let tagIdx = -1;
    for (let j = 0; j < tagGroups.length; j++)
      if (tagIdx === -1 || tagGroups[j]! > tagGroups[tagIdx]!) tagIdx = j;
    const given = this.model.interpreter;
    if (given !== null && given.cacheTag !== null) {
      const givenIdx = c.tags.indexOf(given.cacheTag);
      if (tagIdx !== -1 && (givenIdx === -1 || tagGroups[givenIdx] === 0))
        this.refuseOtherVersion(given, c.tags[tagIdx]!, tagGroups[tagIdx]!);
      return {
        source: 'python',
        executable: given.executable,
        version: given.version,
        cacheTag: given.cacheTag,
        magic: magicOfHex(given.magic),
        evidence: `given: ${given.requested}`,
      };
    }
    if (tagIdx === -1)
      return {
        source: 'unknown',
        executable: null,
        version: null,
        cacheTag: null,
        magic: null,
        evidence: 'no cache in __pycache__ and no --python: cache tags and magic numbers are not compared',
      };
    const tag = c.tags[tagIdx]!;
    return {
      source: 'inferred',
      executable: null,
      version: versionOfTag(tag),
      cacheTag: tag,
      magic: null,
      evidence: `inferred from the dominant cache tag: ${tagGroups[tagIdx]} of ${g.count} module caches are ${tag}`,
    };
  }

  /**
   * A --python whose cache tag no cache of the PATHs has, while they have caches of another tag: every cache
   * would be a foreign-tag warning and every source a missing cache, a report about the wrong interpreter.
   * Refused; a tree holding caches of both tags is checked against the one given.
   */
  private refuseOtherVersion(given: InterpreterInfo, tag: string, modules: number): void {
    if ((this.options.paths?.length ?? 0) === 0) return; // Why: its own library, listed by that interpreter.
    const where = this.model.scan.roots.filter((r) => r.entry !== -1).map((r) => r.path);
    const version = versionOfTag(tag);
    throw new PyfloppyError(
      'EUSAGE',
      `--python ${given.requested} is ${given.cacheTag} (Python ${given.version}), but ${where.join(', ')} has no cache of ${given.cacheTag}: its caches are ${tag} (${modules} of ${this.g.count} module caches)`,
      {
        hint: `give the tree's own interpreter (--python of Python ${version ?? tag}) or leave --python out to check against ${tag}; to check it for ${given.cacheTag}, compile it with that interpreter first`,
      },
    );
  }

  /** Every cache of a group, read once per byte-identical set of levels. */
  private listCaches(): void {
    const { t, g } = this;
    for (let k = 0; k < g.count; k++) {
      const bits = this.model.identity.pairBits[k]!;
      let srcDir = -1;
      let module = '';
      for (let l = 0; l < 3; l++) {
        const e = g.levels[3 * k + l]!;
        if (e === -1) continue;
        this.cacheCount++;
        if (module === '') {
          srcDir = t.parent[t.parent[e]!]!;
          module = parseCacheName(nameOf(t, e))!.module;
        }
        if (srcDir === -1) continue;
        this.expectedSource.set(e, { dir: srcDir, file: `${module}.py` });
        let same = -1;
        if (l === 1 && (bits & 1) !== 0) same = g.levels[3 * k]!;
        if (l === 2 && (bits & 2) !== 0) same = g.levels[3 * k + 1]!;
        if (l === 2 && same === -1 && (bits & 4) !== 0) same = g.levels[3 * k]!;
        if (same !== -1 && this.rep[same] !== -1) this.rep[e] = this.rep[same]!;
        else {
          this.rep[e] = this.items.length;
          this.items.push([
            pathOf(t, e),
            childPath(t, srcDir, `${module}.py`, typeof t.name[e] !== 'string'),
          ]);
          this.itemEntries.push([e, this.sources.get(`${srcDir}\0${module}`) ?? -1]);
        }
      }
      if (g.tag[k] === this.treeTagIdx && srcDir !== -1) this.bySource.set(`${srcDir}\0${module}`, k);
    }
  }

  /** Legacy .pyc files that import would load (no source, extension or package of the same name beside). */
  private listLegacy(): void {
    const { t, c } = this;
    for (let i = 0; i < t.count; i++) {
      if (c.kind[i] !== K_LEGACY || t.type[i] !== TYPE_FILE) continue;
      this.legacy.push(i);
      this.cacheCount++;
      const name = nameOf(t, i);
      const p = t.parent[i]!;
      if (!name.endsWith('.pyc') || nameOf(t, p) === '__pycache__') continue;
      const stem = name.slice(0, -4);
      if (this.shadowing.has(`${p}\0${stem}`)) continue;
      this.expectedSource.set(i, { dir: p, file: `${stem}.py` });
      this.rep[i] = this.items.length;
      // No source to validate against: a sourceless module is loaded as it is.
      this.items.push([pathOf(t, i), null]);
      this.itemEntries.push([i, -2]);
    }
  }

  inspectionOf(i: number): Inspection | undefined {
    return this.rep[i] === -1 ? undefined : this.inspections[this.rep[i]!];
  }

  /** The interpreter's magic number when inferred: the commonest among caches of its tag. */
  private inferMagic(): void {
    if (this.interp.source !== 'inferred' || this.treeTagIdx === -1) return;
    const { g } = this;
    const counts = new Map<number, number>();
    for (let k = 0; k < g.count; k++) {
      if (g.tag[k] !== this.treeTagIdx) continue;
      for (let l = 0; l < 3; l++) {
        const x = this.inspectionOf(g.levels[3 * k + l]!);
        if (x?.ok === true && x.cacheTag === this.treeTag)
          counts.set(x.magic, (counts.get(x.magic) ?? 0) + 1);
      }
    }
    let best = -1;
    for (const [m, cnt] of counts) if (best === -1 || cnt > counts.get(best)!) best = m;
    if (best !== -1) {
      this.interp.magic = best;
      this.interp.version = magicInfo(best)?.version ?? this.interp.version;
    }
  }

  /** Entry e's inspection when it parsed; an unreadable cache is a problem, an invalid one a bad header. */
  private parsed(e: number): Parsed | undefined {
    const x = this.inspectionOf(e);
    if (x === undefined || x.ok) return x;
    if (x.reason === 'unreadable')
      this.problems.push({ path: this.t.displayPath(e), code: x.code, message: x.message });
    else this.badHeaders.push({ entry: e, message: x.message });
    return undefined;
  }

  private cacheVerdict(e: number, tag: string): CacheVerdict {
    const x = this.parsed(e);
    if (x === undefined) return { entry: e, tag, state: 'unparsed' };
    const v = (state: CacheVerdict['state']): CacheVerdict => ({ entry: e, tag, state, x });
    if (this.treeTag !== null && tag !== this.treeTag) return v('foreign-tag');
    if (x.cacheTag !== tag) return v('bad-magic');
    if (this.treeMagic !== null && x.magic !== this.treeMagic) return v('foreign-magic');
    const src = this.expectedSource.get(e);
    if (src === undefined || !this.sources.has(`${src.dir}\0${src.file.slice(0, -3)}`)) return v('orphan');
    const s = x.source;
    if (s.state === 'symlink') this.symlinkedSources++;
    if (s.state === 'unreadable')
      this.problems.push({
        path: this.t.displayPath(e),
        code: s.code,
        message: `its source could not be read (${s.code})`,
      });
    return v('sourced');
  }

  private legacyVerdict(i: number): LegacyVerdict {
    const name = nameOf(this.t, i);
    const p = this.t.parent[i]!;
    if (nameOf(this.t, p) === '__pycache__') return { entry: i, state: 'in-pycache' };
    if (name.endsWith('.pyo')) return { entry: i, state: 'pyo' };
    if (this.shadowing.has(`${p}\0${name.slice(0, -4)}`)) return { entry: i, state: 'shadowed' };
    const x = this.parsed(i);
    if (x === undefined) return { entry: i, state: 'unparsed' };
    if (this.treeMagic !== null && x.magic !== this.treeMagic) return { entry: i, state: 'foreign-magic', x };
    return { entry: i, state: 'loaded', x };
  }

  /** Where co_filename must point: the source's path where the tree is (as given or resolved), or under
   * --expect-prefix. */
  expectedFilenames(entry: number): string[] {
    const src = this.expectedSource.get(entry)!;
    const relDir = this.t.relativePath(src.dir);
    const rel = relDir === '' ? src.file : `${relDir}/${src.file}`;
    const root = this.model.scan.roots[this.t.root[entry]!]!;
    const bases =
      this.options.expectPrefix !== undefined
        ? [this.options.expectPrefix]
        : root.installedAt !== undefined
          ? [root.installedAt]
          : [path.resolve(root.path), root.realPath];
    return [...new Set(bases.map((b) => path.posix.join(b, rel)))];
  }

  /** The scope a file's levels are compared within: its distribution, else its sys.path entry. */
  scopeOf(i: number): string {
    return this.c.dist[i]! >= 0 ? `d${this.c.dist[i]}` : `s${this.sysEntry[i]}`;
  }

  private missingMemo: { missing: MissingLevel[]; uncompilable: Map<number, string> } | undefined;

  /**
   * Missing levels: per scope (a distribution, else a sys.path entry), the levels shipped for any module
   * are expected for every importable source of that scope. A source with no cache at all may be one that
   * cannot be compiled (test data with syntax errors): the interpreter, when known, tells (computed once).
   */
  missing(): { missing: MissingLevel[]; uncompilable: Map<number, string> } {
    if (this.missingMemo !== undefined) return this.missingMemo;
    const ships = this.shippedLevels();
    const missing: MissingLevel[] = [];
    if (ships.size > 0) {
      for (const [key, src] of this.sources) {
        const stem = key.slice(key.indexOf('\0') + 1);
        if (this.importable[this.t.parent[src]!] !== 1 || !IDENTIFIER.test(stem)) continue;
        const shipped = ships.get(this.scopeOf(src));
        if (shipped === undefined) continue;
        const k = this.bySource.get(key);
        const levels: number[] = [];
        for (let l = 0; l < 3; l++)
          if (shipped[l]! > 0 && (k === undefined || this.g.levels[3 * k + l] === -1)) levels.push(l);
        if (levels.length > 0)
          missing.push({
            source: src,
            levels,
            shipped: levels.map((l) => shipped[l]!),
            none: k === undefined,
          });
      }
    }
    const exe = this.interp.source === 'python' ? this.interp.executable : null;
    const neverCached = missing.filter((m) => m.none && this.c.kind[m.source] === K_SOURCE);
    const errors =
      exe === null
        ? []
        : compileErrors(
            exe,
            neverCached.map((m) => pathOf(this.t, m.source)),
          );
    const uncompilable = new Map<number, string>();
    neverCached.forEach((m, j) => {
      const err = errors[j];
      if (err !== undefined && err !== null) uncompilable.set(m.source, err);
    });
    return (this.missingMemo = { missing, uncompilable });
  }

  /** Per scope, how many modules of the tree's tag ship each level. */
  private shippedLevels(): Map<string, [number, number, number]> {
    const ships = new Map<string, [number, number, number]>();
    if (this.treeTagIdx === -1) return ships;
    for (let k = 0; k < this.g.count; k++) {
      if (this.g.tag[k] !== this.treeTagIdx) continue;
      for (let l = 0; l < 3; l++) {
        const e = this.g.levels[3 * k + l]!;
        if (e === -1) continue;
        const key = this.scopeOf(e);
        let counts = ships.get(key);
        if (counts === undefined) ships.set(key, (counts = [0, 0, 0]));
        counts[l]!++;
      }
    }
    return ships;
  }
}

export interface MissingLevel {
  source: number;
  levels: number[];
  shipped: number[];
  /** No cache of the module at all. */
  none: boolean;
}
