/**
 * `check`: every bytecode cache of a tree seen as the import system will see it, and each defect that makes
 * Python write (stale, missing, wrong magic), waste (orphans, foreign tags, shadowed legacy files, unlinked
 * duplicates) or lie (build-root paths in co_filename, unchecked hashes of changed sources). Read-only.
 *
 * Pipeline: the shared model (scan, classify, bytecode identity), then one inspection per distinct cache
 * content (levels known to be byte-identical are read once), in the worker pool for large trees, then pure
 * rules over the table and the inspections.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PyfloppyError } from '../errors.js';
import type { ImageInfo } from '../image/layers.js';
import type { PackageInfo } from '../package/target.js';
import { buildModel, type Model, type TargetOptions } from '../model/model.js';
import { magicInfo } from '../python/pyc.js';
import { defaultWorkerCount, LazyPool } from '../scan/pool.js';
import type { ScanProblem } from '../scan/scan.js';
import { VERSION } from '../version.js';
import { FINDING_IDS, FINDINGS, type FindingId, type Severity } from './findings.js';
import { CheckState } from './state.js';

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
  /** For an image: the layer (1-based) that added the file. */
  layer?: number;
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
  /** For a container image: its format, interpreter version and layer table (as analyze reports them). */
  image?: ImageInfo;
  /**
   * For a package or bundle (wheel, zip, tar, rpm, deb; absent otherwise): its kind, compression, size as
   * shipped, and (analyze) its compressed size after each strategy, estimated, and a wheel's install caches.
   */
  package?: PackageInfo;
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
    const model = await buildModel({ ...options, pool, inspectCaches: true });
    return await checkModel(model, options, pool);
  } finally {
    if (options.pool === undefined) await pool.close();
  }
}

async function checkModel(model: Model, options: CheckOptions, pool: LazyPool): Promise<CheckReport> {
  const t = model.scan.table;
  const ignore = new Set(options.ignore ?? []);
  refusePython2Interpreter(model);
  options.onPhase?.('reading caches');
  const state = await new CheckState(model, options).build(pool);
  refusePython2Tree(model, state);
  const findings: Finding[] = [];
  const layerOf = t.contents?.layer?.bind(t.contents);
  for (const id of FINDING_IDS) {
    if (ignore.has(id)) continue;
    FINDINGS[id].rule(state, (entry, message, bytes = true) =>
      findings.push({
        id,
        severity: FINDINGS[id].severity,
        path: t.displayPath(entry),
        message,
        apparentBytes: bytes ? t.size[entry]! : 0,
        allocatedBytes: bytes ? t.blocks[entry]! * 512 : 0,
        ...(layerOf === undefined ? {} : { layer: layerOf(entry) }),
      }),
    );
  }
  // The interpreter is asked which sources compile even when both ids it serves are ignored.
  state.missing();
  findings.sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : FINDING_IDS.indexOf(a.id) - FINDING_IDS.indexOf(b.id),
  );
  const counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return {
    schema: 'pyfloppy.check/1',
    pyfloppyVersion: VERSION,
    roots: model.scan.roots.filter((r) => r.entry !== -1).map((r) => ({ path: r.path, labels: r.labels })),
    interpreter: state.interp,
    files: {
      caches: state.cacheCount,
      legacy: state.legacy.length,
      sources: state.sourceCount,
      inspected: state.items.length,
      symlinkedSources: state.symlinkedSources,
    },
    summary: summarize(findings),
    counts,
    ignored: [...ignore],
    findings,
    problems: state.problems,
    ...(model.image === undefined ? {} : { image: model.image }),
    ...(model.package === undefined ? {} : { package: model.package }),
  };
}

/** Per finding id: how many, and the bytes of the files they name. */
function summarize(findings: Finding[]): CheckReport['summary'] {
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
  return summary;
}

const PYTHON2_HINT =
  'check reads the caches of CPython 3.2 and later; `python2.7 -m compileall PATH` rewrites the stale ones of a 2.7 tree, `pyfloppy analyze` measures it';

/**
 * Python 2 keeps its caches beside the sources (mod.pyc, mod.pyo), without a cache tag: read as Python 3
 * reads a tree, every one of them would be called shadowed or an orphan. A 2.x interpreter is refused.
 */
function refusePython2Interpreter(model: Model): void {
  const given = model.interpreter;
  if (given === null || !given.version.startsWith('2.')) return;
  throw new PyfloppyError(
    'EINTERP',
    `${given.requested} is Python ${given.version}: check reads Python 3 caches (__pycache__/NAME.TAG.pyc), Python 2 keeps its .pyc beside the source`,
    { hint: PYTHON2_HINT },
  );
}

/** A file's first two bytes as a little-endian number, or undefined when it cannot be read. */
function magicOf(file: string | Buffer): number | undefined {
  const head = Buffer.alloc(2);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined; // Why: an unreadable file is the rules' finding, not evidence of a version.
  }
  try {
    return fs.readSync(fd, head, 0, 2, 0) === 2 ? head.readUInt16LE(0) : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Legacy caches read for their magic number when a tree has no cache in __pycache__. */
const PYTHON2_SAMPLE = 64;

/**
 * A tree without any cache in __pycache__ whose legacy .pyc files are mostly Python 2's (by magic number)
 * is a Python 2 tree, refused as its interpreter is. A Python 3 sourceless tree (legacy .pyc of 3.x) is not.
 */
function refusePython2Tree(model: Model, state: CheckState): void {
  if (state.interp.source !== 'unknown') return;
  const t = model.scan.table;
  let read = 0;
  let python2 = 0;
  // Why: an image's entries are not on this disk (its paths may name the host's own files).
  if (t.contents !== undefined) return;
  for (const i of state.legacy) {
    if (read === PYTHON2_SAMPLE) break;
    const magic = magicOf(t.fsPath(i));
    if (magic === undefined) continue;
    read++;
    if (magicInfo(magic)?.version.startsWith('2.') === true) python2++;
  }
  if (read === 0 || python2 * 2 <= read) return;
  const where = model.scan.roots.filter((r) => r.entry !== -1).map((r) => r.path);
  throw new PyfloppyError(
    'EUSAGE',
    `${where.join(', ')}: a Python 2 tree (${python2} of ${read} legacy .pyc/.pyo files read have a Python 2 magic number, no cache is in __pycache__): check reads Python 3 caches`,
    { hint: PYTHON2_HINT },
  );
}
