/**
 * The library entry for `analyze`: the footprint of a Python tree and every strategy's estimate, as the
 * versioned JSON report.
 */
import type { ImageInfo } from './image/layers.js';
import { buildModel, type TargetOptions } from './model/model.js';
import { defaultWorkerCount, LazyPool } from './scan/pool.js';
import { type AnalyzeReport, buildAnalyzeReport } from './report/analyze-report.js';
import type { Subset } from './strategies/context.js';
import { estimateStrategies } from './strategies/estimate.js';
import type { PackageInfo } from './package/target.js';

export interface AnalyzeOptions extends TargetOptions {
  /** Estimate the strategies (default true). Compression is measured by compressing: it reads the files. */
  strategies?: boolean;
  /** Compute strategy estimates and percentages over a subset, e.g. a python3-libs-like package. */
  baselineSubset?: Subset;
}

/**
 * Analyze directories (options.paths) or an interpreter's library (options.python, or the python3 on PATH
 * when no path is given). Returns the same data as `pyfloppy analyze --format json`.
 * Throws PyfloppyError for a missing path, a file where a directory was expected, or a bad interpreter.
 */
export async function analyze(options: AnalyzeOptions = {}): Promise<AnalyzeReport> {
  const pool = new LazyPool(options.workers ?? defaultWorkerCount());
  try {
    const model = await buildModel({ ...options, pool });
    const estimate = options.strategies !== false;
    if (estimate) options.onPhase?.('estimating savings');
    const estimates = !estimate
      ? undefined
      : await estimateStrategies(model, {
          pool,
          ...(options.baselineSubset ? { subset: options.baselineSubset } : {}),
        });
    if (estimates !== undefined && model.image !== undefined) apparentOnly(estimates, model.image);
    if (model.package !== undefined) await packageFacts(model.package, estimates, options.python);
    return buildAnalyzeReport(model, estimates);
  } finally {
    await pool.close();
  }
}

/**
 * An image's estimates: apparent bytes only (an archive has no blocks, so allocated figures are 0), and the
 * strategies left out because they need contents the stream did not keep, named in the image's facts.
 */
function apparentOnly(e: Awaited<ReturnType<typeof estimateStrategies>>, image: ImageInfo): void {
  image.notEstimated = e.notEstimated;
  e.baseline.allocatedBytes = 0;
  for (const s of e.strategies) {
    s.saved.allocatedBytes = 0;
    s.after.allocatedBytes = 0;
  }
}

/** A package's compressed size after each strategy (estimated), and for a wheel the caches installing adds. */
async function packageFacts(
  info: PackageInfo,
  e: Awaited<ReturnType<typeof estimateStrategies>> | undefined,
  python: string | undefined,
): Promise<void> {
  const { compressedEstimate } = await import('./package/target.js');
  if (e !== undefined) info.compressed = compressedEstimate(info, e.strategies);
  if (info.kind !== 'wheel') return;
  const { installCaches, NOT_MEASURED } = await import('./package/install.js');
  info.install = python === undefined ? NOT_MEASURED : await installCaches(info.path, python);
}
