/**
 * The whole read-only pipeline for a target: resolve roots (from paths or an interpreter), scan, classify,
 * aggregate, compare bytecode. Every command that needs to know a tree starts here.
 */
import fs from 'node:fs';
import { PyfloppyError } from '../errors.js';
import { describeInterpreter, type InterpreterInfo } from '../python/interpreter.js';
import { defaultWorkerCount, LazyPool } from '../scan/pool.js';
import { type RootSpec, resolveRoots, type ScanProblem, type ScanResult, scan } from '../scan/scan.js';
import { type Classification, classify } from './classify.js';
import { type Footprint, footprint } from './footprint.js';
import { bytecodeIdentity, type IdentityDetail } from './identity.js';
import type { ImageInfo } from '../image/layers.js';
import { isImagePath, rootfsPythonRoots } from '../image/roots.js';
import { packageKind } from '../package/detect.js';
import type { PackageInfo } from '../package/target.js';

export interface TargetOptions {
  /** Directories to analyze. With none, the interpreter's stdlib and site-packages are analyzed. */
  paths?: readonly string[];
  /** The interpreter: its paths are the target when no paths are given; its cache tag is reported. */
  python?: string;
  /** Scan progress: entries seen and their apparent bytes. */
  onProgress?: (entries: number, apparentBytes: number) => void;
  /** The step after the scan that is starting ('comparing bytecode levels', ...): steps without a count. */
  onPhase?: (phase: string) => void;
  /** Worker threads for large trees: default one per core (at most 4); 0 walks and compares in this thread. */
  workers?: number;
  /** A pool to use (and leave open) instead of one made and closed here. */
  pool?: LazyPool;
  /** For an image whose index holds several: os/architecture[/variant]. */
  platform?: string;
  /** For an image: inspect its caches while reading them (check needs what their headers and code say). */
  inspectCaches?: boolean;
}

export interface Model {
  interpreter: InterpreterInfo | null;
  scan: ScanResult;
  classification: Classification;
  footprint: Footprint;
  identity: IdentityDetail;
  /** Problems met on the way (unreadable directories, RECORDs, caches), none fatal. */
  problems: ScanProblem[];
  /** Interpreter paths that do not exist on disk and were skipped (e.g. no site-packages). */
  skippedPaths: Array<{ label: string; path: string }>;
  /** For a container image (and a package): its format, interpreter version, layer table. */
  image?: ImageInfo;
  /** For a package or bundle (wheel, zip, tar, rpm, deb): its kind, compression and sizes. */
  package?: PackageInfo;
}

const PATH_LABELS = ['stdlib', 'platstdlib', 'purelib', 'platlib'] as const;

export async function buildModel(options: TargetOptions = {}): Promise<Model> {
  const paths = options.paths ?? [];
  if (paths.some((p) => packageKind(p) !== undefined)) return packageModel(paths, options);
  if (paths.some(isImagePath)) {
    if (options.python !== undefined)
      throw new PyfloppyError(
        'EUSAGE',
        'an image is read without running its interpreter: --python does not apply',
        {
          hint: 'leave --python out: the version and cache tag come from the image',
        },
      );
    return imageModel(paths, options);
  }
  let interpreter: InterpreterInfo | null = null;
  if (options.python !== undefined || paths.length === 0) {
    interpreter = describeInterpreter(options.python ?? 'python3');
  }
  const specs: RootSpec[] = [];
  const skippedPaths: Model['skippedPaths'] = [];
  if (paths.length > 0) {
    for (const p of paths) specs.push(...rootfsSpecs(p));
  } else if (interpreter !== null) {
    for (const label of PATH_LABELS) {
      const p = interpreter.paths[label];
      if (p === null || p === undefined) continue;
      if (!fs.existsSync(p)) {
        skippedPaths.push({ label, path: p });
        continue;
      }
      specs.push({ path: p, label });
    }
    if (specs.length === 0) {
      throw new PyfloppyError(
        'ENOTFOUND',
        `${interpreter.executable} reports no library directory that exists`,
        {
          hint: 'name the directories to analyze as arguments',
        },
      );
    }
  }
  const roots = resolveRoots(specs);
  const pool = options.pool ?? new LazyPool(options.workers ?? defaultWorkerCount());
  let scanned: ScanResult;
  let classification: Classification;
  let identity: IdentityDetail;
  try {
    scanned = await scan(roots, {
      pool,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
    classification = classify(scanned);
    options.onPhase?.('comparing bytecode levels');
    identity = await bytecodeIdentity(scanned, classification, pool);
  } finally {
    if (options.pool === undefined) await pool.close();
  }
  const fp = footprint(scanned, classification);
  const problems: ScanProblem[] = [
    ...scanned.problems,
    ...classification.problems,
    ...identity.summary.unreadable,
  ];
  return { interpreter, scan: scanned, classification, footprint: fp, identity, problems, skippedPaths };
}

/** A root file system directory stands for the Python directories found in it; another path for itself. */
function rootfsSpecs(p: string): RootSpec[] {
  const found = rootfsPythonRoots(p);
  if (found === undefined) return [{ path: p }];
  return found.map((r) => ({
    path: `${p.replace(/\/+$/, '')}/${r.rel}`,
    label: r.label,
    installedAt: `/${r.rel}`,
  }));
}

/** A container image: read by src/image (loaded here, only for images), then the same stages. */
async function imageModel(paths: readonly string[], options: TargetOptions): Promise<Model> {
  if (paths.length !== 1)
    throw new PyfloppyError('EUSAGE', 'an image is analyzed alone', { hint: 'give one image per run' });
  const { imageTarget } = await import('../image/target.js');
  const { scan: scanned, image } = await imageTarget(paths[0]!, {
    ...(options.platform === undefined ? {} : { platform: options.platform }),
    inspect: options.inspectCaches === true,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  return { ...(await archiveModel(scanned, options)), image };
}

/** The model's stages over an archive's scan result (an image's, a package's): no interpreter is run. */
async function archiveModel(scanned: ScanResult, options: TargetOptions): Promise<Model> {
  const classification = classify(scanned);
  options.onPhase?.('comparing bytecode levels');
  const identity = await bytecodeIdentity(scanned, classification);
  const fp = footprint(scanned, classification);
  const problems = [...scanned.problems, ...classification.problems, ...identity.summary.unreadable];
  return {
    interpreter: null,
    scan: scanned,
    classification,
    footprint: fp,
    identity,
    problems,
    skippedPaths: [],
  };
}

/**
 * A package or bundle: read by src/package (loaded here, only for packages), then the same stages. --python
 * applies to a wheel only: it measures the caches installing it adds (analyze), nothing else.
 */
async function packageModel(paths: readonly string[], options: TargetOptions): Promise<Model> {
  if (paths.length !== 1)
    throw new PyfloppyError('EUSAGE', 'a package is analyzed alone', { hint: 'give one package per run' });
  const kind = packageKind(paths[0]!)!;
  if (options.python !== undefined && (kind !== 'wheel' || options.inspectCaches === true))
    throw new PyfloppyError(
      'EUSAGE',
      `a ${kind} is read without running an interpreter: --python does not apply`,
      { hint: 'leave --python out (analyze of a wheel takes it, to measure the caches installing it adds)' },
    );
  // Why: a bad interpreter is refused before the package is read, as for a directory.
  if (options.python !== undefined) describeInterpreter(options.python);
  const { packageTarget } = await import('../package/target.js');
  const t = await packageTarget(paths[0]!, kind, {
    inspect: options.inspectCaches === true,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  return { ...(await archiveModel(t.scan, options)), image: t.image, package: t.package };
}
