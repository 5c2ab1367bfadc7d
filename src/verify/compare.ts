/** What got worse between two verify reports, and reading a saved report back as a baseline. */
import path from 'node:path';
import { PyfloppyError, readUserFile } from '../errors.js';
import {
  CHECKS,
  type Regression,
  VERIFY_SCHEMA,
  type VerifyLevel,
  type VerifyReport,
  type WriteAttempt,
} from './types.js';

/** A write as compared across runs: its event and its path in the tree, without importlib's temporary
 * suffix (`_write_atomic` opens `NAME.pyc.<id>`, a number that changes from run to run). */
function writeKey(report: VerifyReport, w: WriteAttempt): string {
  return `${w.event} ${path.relative(report.path, w.path).replace(/\.pyc\.\d+$/, '.pyc')}`;
}

function importRegressions(base: VerifyLevel, lv: VerifyLevel, excludedNow: Set<string>): Regression[] {
  const out: Regression[] = [];
  const okNow = new Set(lv.okModules);
  const failedNow = new Map(lv.failed.map((f) => [f.module, f]));
  for (const m of base.okModules) {
    if (okNow.has(m) || excludedNow.has(m)) continue;
    const f = failedNow.get(m);
    out.push(
      f === undefined
        ? { kind: 'missing', level: lv.level, module: m }
        : { kind: 'failed', level: lv.level, module: m, type: f.type, message: f.message },
    );
  }
  return out;
}

function writeRegressions(
  baseline: VerifyReport,
  base: VerifyLevel,
  after: VerifyReport,
  lv: VerifyLevel,
): Regression[] {
  const before = new Set(base.writes.map((w) => writeKey(baseline, w)));
  const seen = new Set<string>();
  const out: Regression[] = [];
  for (const w of lv.writes) {
    const key = writeKey(after, w);
    if (before.has(key) || seen.has(key)) continue;
    seen.add(key);
    out.push({ kind: 'write', level: lv.level, module: w.module, event: w.event, path: w.path });
  }
  return out;
}

/** A check a module passed in the baseline (imported, the check applying and not failing) that it fails now. */
function behaviourRegressions(base: VerifyLevel, lv: VerifyLevel): Regression[] {
  if (base.checks === undefined || lv.checks === undefined) return [];
  const out: Regression[] = [];
  const okBefore = new Set(base.okModules);
  for (const check of CHECKS) {
    const failedBefore = new Set(base.checks[check].failed);
    for (const m of lv.checks[check].failed) {
      if (okBefore.has(m) && !failedBefore.has(m))
        out.push({ kind: 'behaviour', level: lv.level, module: m, check });
    }
  }
  return out;
}

function testRegressions(base: VerifyLevel, lv: VerifyLevel): Regression[] {
  const out: Regression[] = [];
  const now = new Map((lv.tests ?? []).map((t) => [t.package, t]));
  for (const b of base.tests ?? []) {
    const t = now.get(b.package);
    const after = t?.count ?? 0;
    const error = t === undefined ? 'not discovered (the package does not import)' : t.error;
    if (after < b.count || (t !== undefined && t.errors > b.errors)) {
      out.push({ kind: 'tests', level: lv.level, package: b.package, before: b.count, after, error });
    }
  }
  return out;
}

function regrtestRegressions(base: VerifyLevel, lv: VerifyLevel): Regression[] {
  if (base.regrtest === undefined || lv.regrtest === undefined) return [];
  const failedBefore = new Set(base.regrtest.failed.map((f) => f.test));
  const ranBefore = new Set(base.regrtest.tests);
  return lv.regrtest.failed
    .filter((f) => ranBefore.has(f.test) && !failedBefore.has(f.test))
    .map((f) => ({ kind: 'regrtest', level: lv.level, test: f.test, status: f.status, first: f.first }));
}

/**
 * What got worse from `baseline` to `after`, level by level (levels only one of them has are not compared):
 * a module imported in the baseline that now fails or is gone (unless now excluded), a write attempt the
 * baseline did not make (with writeLevels, only at those levels), a behaviour check a module passed and now
 * fails, a test package with fewer tests, a regression test that passed and now fails.
 */
export function regressions(
  baseline: VerifyReport,
  after: VerifyReport,
  options: { writeLevels?: number[] } = {},
): Regression[] {
  const out: Regression[] = [];
  const excludedNow = new Set(after.excluded);
  for (const lv of after.levels) {
    const base = baseline.levels.find((b) => b.level === lv.level);
    if (base === undefined) continue;
    out.push(...importRegressions(base, lv, excludedNow));
    if (options.writeLevels === undefined || options.writeLevels.includes(lv.level))
      out.push(...writeRegressions(baseline, base, after, lv));
    out.push(
      ...behaviourRegressions(base, lv),
      ...testRegressions(base, lv),
      ...regrtestRegressions(base, lv),
    );
  }
  return out;
}

/** A report saved by `verify --json` / `--output`, read back as a baseline. */
export function readVerifyReport(file: string): VerifyReport {
  const text = readUserFile(file);
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch {
    r = undefined;
  }
  const report = r as Partial<VerifyReport> | undefined;
  if (
    typeof report !== 'object' ||
    report === null ||
    report.schema !== VERIFY_SCHEMA ||
    typeof report.path !== 'string' ||
    !Array.isArray(report.levels) ||
    !report.levels.every((l) => Array.isArray(l.okModules) && Array.isArray(l.writes))
  ) {
    throw new PyfloppyError('EUSAGE', `${file} is not a ${VERIFY_SCHEMA} report`, {
      hint: 'save one with `pyfloppy verify PATH --python EXE --output FILE` on the original tree',
    });
  }
  return report as VerifyReport;
}
