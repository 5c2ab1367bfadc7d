/** `apply`'s options and report: what a run is asked to do and what it tells. */
import type { JournalCalls } from '../fsops/journal.js';
import type { Bytes } from '../model/footprint.js';
import type { Plan } from '../plan/plan.js';
import type { Regression, RegrtestOptions, VerifyOptions, VerifyReport } from '../verify/verify.js';
import { VERSION } from '../version.js';

export const APPLY_SCHEMA = 'pyfloppy.apply/1';

export interface ApplyOptions {
  /** The plan file. */
  planFile: string;
  /** Check everything, change nothing. */
  dryRun?: boolean;
  /** Delete the journal at the end (default true); false keeps it for a later rollback or commit. */
  commit?: boolean;
  /** Run verify before and after; roll back on any regression. */
  verify?: {
    python: string;
    levels?: number[];
    baseline?: VerifyReport;
    exclude?: string[];
    regrtest?: RegrtestOptions;
    onProgress?: VerifyOptions['onProgress'];
  };
  calls?: JournalCalls;
  onStep?: (done: number, total: number) => void;
  /** Called as verify starts each run ('before' | 'after'). */
  onVerify?: (phase: 'before' | 'after') => void;
}

export interface Mismatch {
  path: string;
  why: string;
}

export interface ApplyReport {
  schema: typeof APPLY_SCHEMA;
  generator: { name: 'pyfloppy'; version: string };
  root: string;
  strategies: string[];
  dryRun: boolean;
  /** 'applied', 'refused' (nothing changed), 'rolled-back' (changed, then restored), 'already-applied'. */
  outcome: 'applied' | 'refused' | 'rolled-back' | 'already-applied' | 'checked';
  /** A journal of this plan left by a killed run was finished. */
  resumed: boolean;
  /** A journal of another plan left by a killed run was rolled back first. */
  rolledBackOther: boolean;
  operations: number;
  done: number;
  committed: boolean;
  /** The journal directory when it is kept (--no-commit, or a rollback that met conflicts). */
  journal: string | null;
  /** What the plan frees (its `saved`), whatever this run did. */
  saved: Bytes;
  /** Bytes this run freed: the plan's `saved` once an applied run is committed, else zero. */
  freed: Bytes;
  /** Bytes the journal still holds after `--no-commit` (every removed or replaced file): freed at commit. */
  toBeFreedAtCommit: Bytes;
  mismatches: Mismatch[];
  failure?: string;
  verify?: { before: VerifyReport; after?: VerifyReport; regressions: Regression[] };
  rollback?: { restored: number; conflicts: string[] };
}

export function baseReport(plan: Plan, dryRun: boolean): ApplyReport {
  return {
    schema: APPLY_SCHEMA,
    generator: { name: 'pyfloppy', version: VERSION },
    root: plan.root,
    strategies: plan.strategies,
    dryRun,
    outcome: 'applied',
    resumed: false,
    rolledBackOther: false,
    operations: plan.operations.length,
    done: 0,
    committed: false,
    journal: null,
    saved: plan.saved,
    freed: { apparentBytes: 0, allocatedBytes: 0 },
    toBeFreedAtCommit: { apparentBytes: 0, allocatedBytes: 0 },
    mismatches: [],
  };
}
