/** pyfloppy as a library: the same data as the JSON reports, with their types. */
export { type AnalyzeOptions, analyze } from './analyze.js';
export {
  type CheckInterpreter,
  type CheckOptions,
  type CheckReport,
  check,
  type Finding,
} from './check/check.js';
export {
  type CompileOptions,
  type CompileReport,
  compile,
  type InvalidationMode,
} from './compile/compile.js';
export { FINDING_IDS, FINDINGS, type FindingId, type Severity } from './check/findings.js';
export {
  DEDUP_SCHEMA,
  type DedupOptions,
  type DedupReport,
  dedup,
  type LinkedPair,
  type SkippedPair,
} from './dedup/dedup.js';
export { type ErrorCode, isPyfloppyError, PyfloppyError } from './errors.js';
export type { Bytes, KindTotal, KindTotals } from './model/footprint.js';
export type { BytecodeIdentity } from './model/identity.js';
export { KIND_NAMES, type KindName } from './model/kinds.js';
export type { InterpreterInfo } from './python/interpreter.js';
export {
  ANALYZE_SCHEMA,
  type AnalyzeReport,
  type DistributionReport,
  type ModuleReport,
  type RootReport,
} from './report/analyze-report.js';
export { VERSION } from './version.js';
