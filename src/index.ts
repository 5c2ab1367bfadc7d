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
export { type CompileWorker, startCompileWorker } from './compile/worker.js';
export {
  APPLY_SCHEMA,
  type ApplyOptions,
  type ApplyReport,
  apply,
  commit,
  type Mismatch,
  type RollbackReport,
  rollback,
} from './apply/apply.js';
export {
  PLAN_SCHEMA,
  PLANNABLE,
  type Plan,
  type PlanFingerprint,
  type PlanOperation,
  type PlanOptions,
  plan,
} from './plan/plan.js';
export { FIT_SCHEMA, type FitCandidate, type FitOptions, type FitReport, fit } from './fit/fit.js';
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
export {
  type ImportFailure,
  readVerifyReport,
  type Regression,
  regressions,
  verify,
  VERIFY_SCHEMA,
  type VerifyLevel,
  type VerifyOptions,
  type VerifyReport,
  type WriteAttempt,
} from './verify/verify.js';
export {
  checkSplit,
  renderRpm,
  renderRpmSection,
  rpmFileName,
  SPLIT_POLICIES,
  SPLIT_SCHEMA,
  type SplitCheck,
  type SplitOptions,
  type SplitPolicy,
  type SplitReport,
  type SplitResult,
  type SplitSection,
  type SplitViolation,
  split,
  type TreeListing,
} from './split/split.js';
export { VERSION } from './version.js';
