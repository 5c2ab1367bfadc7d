/**
 * `check`: every bytecode cache of a tree seen as the import system will see it, and each defect that makes
 * Python write (stale, missing, wrong magic), waste (orphans, foreign tags, shadowed legacy files, unlinked
 * duplicates) or lie (build-root paths in co_filename, unchecked hashes of changed sources). Read-only.
 *
 * Pipeline: the shared model (scan, classify, bytecode identity), then one inspection per distinct cache
 * content (levels known to be byte-identical are read once), in the worker pool for large trees, then pure
 * rules over the table and the inspections.
 */
import path from 'node:path';
import { PyfloppyError } from '../errors.js';
import { isLeftoverTemp } from '../fsops/temp.js';
import { K_DIRECTORY, K_EXTENSION, K_LEGACY, K_SOURCE, K_SYMLINK } from '../model/kinds.js';
import { buildModel, type Model, type TargetOptions } from '../model/model.js';
import { compileErrors } from '../python/compiles.js';
import { extensionModuleName, parseCacheName } from '../python/layout.js';
import { magicInfo } from '../python/pyc.js';
import { defaultWorkerCount, LazyPool, type WorkerReply } from '../scan/pool.js';
import type { ScanProblem } from '../scan/scan.js';
import { type EntryName, type EntryTable, pathOf, TYPE_DIR, TYPE_FILE } from '../scan/table.js';
import { VERSION } from '../version.js';
import { FINDING_IDS, FINDINGS, type FindingId, type Severity } from './findings.js';
import { type Inspection, inspectPyc } from './inspect.js';

export interface CheckOptions extends TargetOptions {
  /** Where the (single) checked directory will be installed: co_filename must point there. */
  expectPrefix?: string;
  /** Finding ids not to report (nor count for the exit code). */
  ignore?: readonly FindingId[];
}

export interface Finding {
  id: FindingId;
  severity: Severity;
  /** The file the finding is about (for missing-level and uncompilable: the source). */
  path: string;
  message: string;
  /** Bytes of the file (what removing or linking it would free; 0 for a missing file). */
  apparentBytes: number;
  allocatedBytes: number;
}

export interface CheckInterpreter {
  /** 'python': given with --python (or the default python3 when no path was given); 'inferred': from the caches. */
  source: 'python' | 'inferred' | 'unknown';
  executable: string | null;
  version: string | null;
  cacheTag: string | null;
  magic: number | null;
  /** Why this interpreter, for people. */
  evidence: string;
}

export interface CheckReport {
  schema: 'pyfloppy.check/1';
  pyfloppyVersion: string;
  roots: Array<{ path: string; labels: string[] }>;
  interpreter: CheckInterpreter;
  files: {
    /** Cache files in __pycache__ directories (every tag) and legacy .pyc/.pyo files. */
    caches: number;
    legacy: number;
    sources: number;
    /** Caches read and parsed (byte-identical levels are read once). */
    inspected: number;
    /** Caches whose source is a symlink: not followed, so not compared. */
    symlinkedSources: number;
  };
  summary: Array<{
    id: FindingId;
    severity: Severity;
    count: number;
    apparentBytes: number;
    allocatedBytes: number;
  }>;
  counts: Record<Severity, number>;
  ignored: FindingId[];
  findings: Finding[];
  problems: ScanProblem[];
}

/** Caches per worker request, and the fewest worth sending to workers at all. */
const INSPECT_BATCH = 64;
const POOL_MIN_INSPECTIONS = 256;

const IDENTIFIER = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;
const LEVEL_SUFFIX = ['', '.opt-1', '.opt-2'] as const;
const LEVEL_NAME = ['level 0', 'opt-1', 'opt-2'] as const;

function nameOf(t: EntryTable, i: number): string {
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

/**
 * Check directories (options.paths) or an interpreter's library (no paths). Returns the findings and their
 * summary; the caller decides the exit code (1 when counts.error + counts.warning > 0).
 */
export async function check(options: CheckOptions = {}): Promise<CheckReport> {
  if (options.expectPrefix !== undefined && (options.paths?.length ?? 0) !== 1) {
    throw new PyfloppyError('EUSAGE', '--expect-prefix needs exactly one PATH', {
      hint: 'check each directory on its own, each with the prefix it is installed at',
    });
  }
  if (options.expectPrefix !== undefined && !path.isAbsolute(options.expectPrefix)) {
    throw new PyfloppyError('EUSAGE', `--expect-prefix must be an absolute path: ${options.expectPrefix}`);
  }
  const pool = options.pool ?? new LazyPool(options.workers ?? defaultWorkerCount());
  try {
    const model = await buildModel({ ...options, pool });
    return await checkModel(model, options, pool);
  } finally {
    if (options.pool === undefined) await pool.close();
  }
}

async function checkModel(model: Model, options: CheckOptions, pool: LazyPool): Promise<CheckReport> {
  const t = model.scan.table;
  const c = model.classification;
  const g = c.bytecode;
  const n = t.count;
  const ignore = new Set(options.ignore ?? []);

  // Per directory: the sys.path entry it is under, and whether import can reach it (every package name an
  // identifier from that entry down: 'config-3.13-x86_64-linux-gnu' cannot be imported, so never cached).
  const sysEntry = new Int32Array(n);
  const importable = new Uint8Array(n);
  const sources = new Map<string, number>(); // `${dir}\0${stem}` -> entry of stem.py (file or symlink)
  const shadowing = new Set<string>(); // `${dir}\0${stem}`: a source, extension or package named stem
  let sourceCount = 0;
  for (let i = 0; i < n; i++) {
    const p = t.parent[i]!;
    if (p === -1) {
      sysEntry[i] = i;
      importable[i] = 1;
      continue;
    }
    const name = nameOf(t, i);
    const k = c.kind[i]!;
    if (t.type[i] === TYPE_DIR) {
      if (k === K_DIRECTORY && c.top[i] === -1 && name !== '__pycache__') {
        sysEntry[i] = i;
        importable[i] = 1;
      } else {
        sysEntry[i] = sysEntry[p]!;
        importable[i] = importable[p]! === 1 && IDENTIFIER.test(name) ? 1 : 0;
      }
      continue;
    }
    sysEntry[i] = sysEntry[p]!;
    if ((k === K_SOURCE || k === K_SYMLINK) && name.endsWith('.py')) {
      const stem = name.slice(0, -3);
      sources.set(`${p}\0${stem}`, i);
      shadowing.add(`${p}\0${stem}`);
      if (stem === '__init__') {
        const pp = t.parent[p]!;
        if (pp !== -1) shadowing.add(`${pp}\0${nameOf(t, p)}`);
      }
      if (k === K_SOURCE) sourceCount++;
    } else if (k === K_EXTENSION) {
      const mod = extensionModuleName(name)!;
      shadowing.add(`${p}\0${mod}`);
      if (mod === '__init__') {
        const pp = t.parent[p]!;
        if (pp !== -1) shadowing.add(`${pp}\0${nameOf(t, p)}`);
      }
    }
  }

  // The tree's interpreter: given, or the dominant cache tag (by module groups).
  const tagGroups = new Array<number>(c.tags.length).fill(0);
  for (let k = 0; k < g.count; k++) tagGroups[g.tag[k]!]!++;
  let tagIdx = -1;
  for (let j = 0; j < tagGroups.length; j++)
    if (tagIdx === -1 || tagGroups[j]! > tagGroups[tagIdx]!) tagIdx = j;
  const interp: CheckInterpreter = {
    source: 'unknown',
    executable: null,
    version: null,
    cacheTag: null,
    magic: null,
    evidence: 'no cache in __pycache__ and no --python: cache tags and magic numbers are not compared',
  };
  if (model.interpreter !== null && model.interpreter.cacheTag !== null) {
    const i = model.interpreter;
    interp.source = 'python';
    interp.executable = i.executable;
    interp.version = i.version;
    interp.cacheTag = i.cacheTag;
    interp.magic = magicOfHex(i.magic);
    interp.evidence = `given: ${i.requested}`;
  } else if (tagIdx !== -1) {
    interp.source = 'inferred';
    interp.cacheTag = c.tags[tagIdx]!;
    interp.version = versionOfTag(interp.cacheTag);
    interp.evidence = `inferred from the dominant cache tag: ${tagGroups[tagIdx]} of ${g.count} module caches are ${interp.cacheTag}`;
  }
  const treeTag = interp.cacheTag;
  const treeTagIdx = treeTag === null ? -1 : c.tags.indexOf(treeTag);

  // What to inspect: every cache of a group, read once per byte-identical set of levels; and legacy .pyc
  // files that import would load (no source, extension or package of the same name beside them).
  const rep = new Int32Array(n).fill(-1); // entry -> index into items
  const items: Array<[string | Buffer, string | Buffer | null]> = [];
  const expectedSource = new Map<number, { dir: number; file: string }>(); // cache entry -> its source
  const groupSrcDir = new Int32Array(g.count);
  const groupModule: string[] = new Array<string>(g.count);
  const bySource = new Map<string, number>(); // `${srcDir}\0${module}` -> group with the tree's tag
  let cacheCount = 0;
  for (let k = 0; k < g.count; k++) {
    const bits = model.identity.pairBits[k]!;
    let first = -1;
    for (let l = 0; l < 3; l++) {
      const e = g.levels[3 * k + l]!;
      if (e === -1) continue;
      cacheCount++;
      if (first === -1) {
        first = e;
        const pyc = t.parent[e]!;
        groupSrcDir[k] = t.parent[pyc]!;
        groupModule[k] = parseCacheName(nameOf(t, e))!.module;
      }
      const srcDir = groupSrcDir[k]!;
      if (srcDir === -1) continue;
      expectedSource.set(e, { dir: srcDir, file: `${groupModule[k]}.py` });
      const l0 = g.levels[3 * k]!;
      const l1 = g.levels[3 * k + 1]!;
      let same = -1;
      if (l === 1 && (bits & 1) !== 0) same = l0;
      if (l === 2 && (bits & 2) !== 0) same = l1;
      if (l === 2 && same === -1 && (bits & 4) !== 0) same = l0;
      if (same !== -1 && rep[same] !== -1) rep[e] = rep[same]!;
      else {
        rep[e] = items.length;
        items.push([
          pathOf(t, e),
          childPath(t, srcDir, `${groupModule[k]}.py`, typeof t.name[e] !== 'string'),
        ]);
      }
    }
    if (g.tag[k] === treeTagIdx && groupSrcDir[k] !== -1)
      bySource.set(`${groupSrcDir[k]}\0${groupModule[k]}`, k);
  }
  const legacy: number[] = [];
  for (let i = 0; i < n; i++) {
    if (c.kind[i] !== K_LEGACY || t.type[i] !== TYPE_FILE) continue;
    legacy.push(i);
    cacheCount++;
    const name = nameOf(t, i);
    const p = t.parent[i]!;
    if (!name.endsWith('.pyc') || nameOf(t, p) === '__pycache__') continue;
    const stem = name.slice(0, -4);
    if (shadowing.has(`${p}\0${stem}`)) continue;
    expectedSource.set(i, { dir: p, file: `${stem}.py` });
    rep[i] = items.length;
    // No source to validate against: a sourceless module is loaded as it is.
    items.push([pathOf(t, i), null]);
  }
  const inspections = await inspectAll(items, pool);
  const inspectionOf = (i: number): Inspection | undefined =>
    rep[i] === -1 ? undefined : inspections[rep[i]!];

  // The interpreter's magic number when inferred: the commonest among caches of its tag.
  if (interp.source === 'inferred' && treeTagIdx !== -1) {
    const counts = new Map<number, number>();
    for (let k = 0; k < g.count; k++) {
      if (g.tag[k] !== treeTagIdx) continue;
      for (let l = 0; l < 3; l++) {
        const x = inspectionOf(g.levels[3 * k + l]!);
        if (x?.ok === true && x.cacheTag === treeTag) counts.set(x.magic, (counts.get(x.magic) ?? 0) + 1);
      }
    }
    let best = -1;
    for (const [m, cnt] of counts) if (best === -1 || cnt > counts.get(best)!) best = m;
    if (best !== -1) {
      interp.magic = best;
      interp.version = magicInfo(best)?.version ?? interp.version;
    }
  }
  const treeMagic = interp.magic;

  const findings: Finding[] = [];
  const problems: ScanProblem[] = [...model.problems];
  const add = (id: FindingId, entry: number, message: string, bytes = true): void => {
    if (ignore.has(id)) return;
    findings.push({
      id,
      severity: FINDINGS[id].severity,
      path: t.displayPath(entry),
      message,
      apparentBytes: bytes ? t.size[entry]! : 0,
      allocatedBytes: bytes ? t.blocks[entry]! * 512 : 0,
    });
  };

  /** Entry e's inspection when it parsed; an unreadable cache is a problem, an invalid one a bad-header. */
  const parsed = (e: number): Extract<Inspection, { ok: true }> | undefined => {
    const x = inspectionOf(e);
    if (x === undefined || x.ok) return x;
    if (x.reason === 'unreadable')
      problems.push({ path: t.displayPath(e), code: x.code, message: x.message });
    else add('bad-header', e, x.message);
    return undefined;
  };

  // Where co_filename must point: the source's path where the tree is (as given or resolved), or under
  // --expect-prefix.
  const roots = model.scan.roots;
  const expectedFilenames = (entry: number): string[] => {
    const src = expectedSource.get(entry)!;
    const relDir = t.relativePath(src.dir);
    const rel = relDir === '' ? src.file : `${relDir}/${src.file}`;
    const root = roots[t.root[entry]!]!;
    const bases =
      options.expectPrefix !== undefined ? [options.expectPrefix] : [path.resolve(root.path), root.realPath];
    return [...new Set(bases.map((b) => path.posix.join(b, rel)))];
  };
  const checkFilenames = (entry: number, x: Extract<Inspection, { ok: true }>): void => {
    if (x.filenames === null || !expectedSource.has(entry)) return;
    const want = expectedFilenames(entry);
    const bad = x.filenames.find((f) => !want.includes(f));
    if (bad === undefined) return;
    const where = x.filenames[0] === bad ? 'co_filename' : "a nested code object's co_filename";
    add(
      'buildroot-path',
      entry,
      `${where} is ${JSON.stringify(bad)}, the installed path is ${want[0]}`,
      false,
    );
  };
  const describeMagic = (m: number): string => {
    const info = magicInfo(m);
    return info === undefined ? `magic ${m}` : `magic ${m} (Python ${info.version})`;
  };

  let symlinkedSources = 0;
  const checkCache = (e: number, tag: string): void => {
    const x = parsed(e);
    if (x === undefined) return;
    if (treeTag !== null && tag !== treeTag) {
      add('foreign-tag', e, `cache tag ${tag}, the tree's interpreter is ${treeTag}: never imported`);
      return;
    }
    if (x.cacheTag !== tag) {
      add(
        'bad-header',
        e,
        `${describeMagic(x.magic)} in a ${tag} cache: importlib rejects it and recompiles`,
      );
      return;
    }
    if (treeMagic !== null && x.magic !== treeMagic) {
      add(
        'foreign-tag',
        e,
        `${describeMagic(x.magic)}, the interpreter's is ${treeMagic}: importlib rejects it, recompiles and tries to write`,
      );
      return;
    }
    const src = expectedSource.get(e);
    if (src === undefined || !sources.has(`${src.dir}\0${src.file.slice(0, -3)}`)) {
      add('orphan', e, `no ${src?.file ?? 'source'} beside __pycache__: never imported`);
      checkFilenames(e, x);
      return;
    }
    const s = x.source;
    if (s.state === 'symlink') symlinkedSources++;
    if (s.state === 'unreadable')
      problems.push({
        path: t.displayPath(e),
        code: s.code,
        message: `its source could not be read (${s.code})`,
      });
    if (s.state === 'regular') {
      if (x.invalidation === 'timestamp') {
        const mtimeDiffers = x.mtime !== s.mtime;
        const sizeDiffers = x.sourceSize !== undefined && x.sourceSize !== s.size >>> 0;
        if (mtimeDiffers || sizeDiffers) {
          const what = [
            ...(mtimeDiffers ? [`mtime ${x.mtime} (source: ${s.mtime})`] : []),
            ...(sizeDiffers ? [`size ${x.sourceSize} (source: ${s.size})`] : []),
          ].join(', ');
          add(
            'stale-timestamp',
            e,
            `header records ${what}: Python recompiles ${src.file} at every import and tries to write this cache`,
          );
        }
      } else if (s.hashMatches === false) {
        add(
          'stale-hash',
          e,
          x.invalidation === 'checked-hash'
            ? `source hash differs from ${src.file}'s: Python recompiles at every import and tries to write this cache`
            : `unchecked-hash cache of a changed ${src.file}: Python runs the old bytecode without noticing`,
        );
      }
    }
    if (x.invalidation === 'unchecked-hash')
      add('unchecked-hash', e, `never compared with ${src.file}: a changed source goes unnoticed`);
    checkFilenames(e, x);
  };

  for (let k = 0; k < g.count; k++) {
    const tag = c.tags[g.tag[k]!]!;
    for (let l = 0; l < 3; l++) {
      const e = g.levels[3 * k + l]!;
      if (e !== -1) checkCache(e, tag);
    }
    // Identical levels not linked, paired as compileall --hardlink-dupes pairs them.
    if (treeTagIdx !== -1 && g.tag[k] !== treeTagIdx) continue;
    const bits = model.identity.pairBits[k]!;
    const [l0, l1, l2] = [g.levels[3 * k]!, g.levels[3 * k + 1]!, g.levels[3 * k + 2]!];
    const pairs: Array<[number, number, number, number]> = [
      [1, 8, l0, l1],
      [2, 16, l1, l2],
      [4, 32, l0, l2],
    ];
    for (const [same, linked, a, b] of pairs) {
      if ((bits & same) !== 0 && (bits & linked) === 0 && t.nlink[b] === 1) {
        add(
          'unlinked-duplicate',
          b,
          `byte-identical to ${nameOf(t, a)} but a separate file: \`pyfloppy dedup\` links it`,
        );
      }
    }
  }

  const atLeast35 = interp.version === null || !/^(2\.|3\.[0-4]$)/.test(interp.version);
  for (const i of legacy) {
    const name = nameOf(t, i);
    const p = t.parent[i]!;
    if (nameOf(t, p) === '__pycache__') {
      add('orphan', i, `${name} in __pycache__ is not named as a cache (NAME.TAG.pyc): never imported`);
      continue;
    }
    if (name.endsWith('.pyo')) {
      if (atLeast35) add('orphan', i, 'Python 3.5 and later never import .pyo files');
      continue;
    }
    const stem = name.slice(0, -4);
    if (shadowing.has(`${p}\0${stem}`)) {
      const beside = sources.has(`${p}\0${stem}`) ? `${stem}.py` : `a package or extension named ${stem}`;
      add('shadowed-legacy', i, `${beside} is imported instead: never used`);
      continue;
    }
    const x = parsed(i);
    if (x === undefined) continue;
    if (treeMagic !== null && x.magic !== treeMagic) {
      add(
        'foreign-tag',
        i,
        `${describeMagic(x.magic)}, the interpreter's is ${treeMagic}: importing it fails (bad magic number)`,
      );
      continue;
    }
    checkFilenames(i, x);
  }

  // pyfloppy's own temporaries left by a run that is over (a killed compile's partial cache, a killed
  // dedup's second name): dead weight the next `compile` or `dedup` removes.
  for (let i = 0; i < n; i++) {
    if (t.type[i] !== TYPE_FILE || !isLeftoverTemp(nameOf(t, i))) continue;
    add(
      'leftover-temporary',
      i,
      'left by an interrupted pyfloppy run: `pyfloppy compile` or `dedup` removes it',
    );
  }

  // Missing levels: per scope (a distribution, else a sys.path entry), the levels shipped for any module
  // are expected for every importable source of that scope.
  const scopeOf = (i: number): string => (c.dist[i]! >= 0 ? `d${c.dist[i]}` : `s${sysEntry[i]}`);
  const ships = new Map<string, [number, number, number]>();
  if (treeTagIdx !== -1) {
    for (let k = 0; k < g.count; k++) {
      if (g.tag[k] !== treeTagIdx) continue;
      for (let l = 0; l < 3; l++) {
        const e = g.levels[3 * k + l]!;
        if (e === -1) continue;
        const key = scopeOf(e);
        let counts = ships.get(key);
        if (counts === undefined) ships.set(key, (counts = [0, 0, 0]));
        counts[l]!++;
      }
    }
  }
  const missing: Array<{ source: number; levels: number[]; shipped: number[]; none: boolean }> = [];
  if (ships.size > 0) {
    for (const [key, src] of sources) {
      const dir = t.parent[src]!;
      const stem = key.slice(key.indexOf('\0') + 1);
      if (importable[dir] !== 1 || !IDENTIFIER.test(stem)) continue;
      const shipped = ships.get(scopeOf(src));
      if (shipped === undefined) continue;
      const k = bySource.get(key);
      const levels: number[] = [];
      for (let l = 0; l < 3; l++)
        if (shipped[l]! > 0 && (k === undefined || g.levels[3 * k + l] === -1)) levels.push(l);
      if (levels.length > 0)
        missing.push({ source: src, levels, shipped: levels.map((l) => shipped[l]!), none: k === undefined });
    }
  }
  // A source with no cache at all may be one that cannot be compiled (test data with syntax errors): the
  // interpreter, when known, tells. Importing such a source fails before anything is written.
  const exe = interp.source === 'python' ? interp.executable : null;
  const neverCached = missing.filter((m) => m.none && c.kind[m.source] === K_SOURCE);
  const errors =
    exe === null
      ? []
      : compileErrors(
          exe,
          neverCached.map((m) => pathOf(t, m.source)),
        );
  const uncompilable = new Map<number, string>();
  neverCached.forEach((m, j) => {
    const err = errors[j];
    if (err !== undefined && err !== null) uncompilable.set(m.source, err);
  });
  for (const m of missing) {
    const err = uncompilable.get(m.source);
    if (err !== undefined) {
      add(
        'uncompilable',
        m.source,
        `${err}: no cache, and importing it fails before anything is written`,
        false,
      );
      continue;
    }
    const stem = nameOf(t, m.source).slice(0, -3);
    const names = m.levels.map((l) => `${stem}.${treeTag}${LEVEL_SUFFIX[l]}.pyc`);
    const levelNames = m.levels.map((l) => LEVEL_NAME[l]).join(', ');
    const flag = m.levels.includes(0) ? 'python' : m.levels.includes(1) ? 'python -O' : 'python -OO';
    add(
      'missing-level',
      m.source,
      `no ${levelNames} cache (${names.join(', ')}) where ${Math.max(...m.shipped)} other modules of this tree have one: \`${flag}\` tries to write it${exe === null && m.none ? ' (give --python to tell sources that cannot compile apart)' : ''}`,
      false,
    );
  }

  findings.sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : FINDING_IDS.indexOf(a.id) - FINDING_IDS.indexOf(b.id),
  );
  const summary: CheckReport['summary'] = [];
  for (const id of FINDING_IDS) {
    const of = findings.filter((f) => f.id === id);
    if (of.length === 0) continue;
    summary.push({
      id,
      severity: FINDINGS[id].severity,
      count: of.length,
      apparentBytes: of.reduce((s, f) => s + f.apparentBytes, 0),
      allocatedBytes: of.reduce((s, f) => s + f.allocatedBytes, 0),
    });
  }
  const counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return {
    schema: 'pyfloppy.check/1',
    pyfloppyVersion: VERSION,
    roots: roots.filter((r) => r.entry !== -1).map((r) => ({ path: r.path, labels: r.labels })),
    interpreter: interp,
    files: {
      caches: cacheCount,
      legacy: legacy.length,
      sources: sourceCount,
      inspected: items.length,
      symlinkedSources,
    },
    summary,
    counts,
    ignored: [...ignore],
    findings,
    problems,
  };
}
