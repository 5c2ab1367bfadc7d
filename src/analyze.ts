/**
 * The library entry for `analyze`: the footprint of a Python tree as the versioned JSON report.
 */
import { buildModel, type TargetOptions } from './model/model.js';
import { type AnalyzeReport, buildAnalyzeReport } from './report/analyze-report.js';

export type AnalyzeOptions = TargetOptions;

/**
 * Analyze directories (options.paths) or an interpreter's library (options.python, or the python3 on PATH
 * when no path is given). Returns the same data as `pyfloppy analyze --format json`.
 * Throws PyfloppyError for a missing path, a file where a directory was expected, or a bad interpreter.
 */
export async function analyze(options: AnalyzeOptions = {}): Promise<AnalyzeReport> {
  return buildAnalyzeReport(await buildModel(options));
}
