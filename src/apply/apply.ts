/**
 * `apply`: carry out a plan. Everything that can fail is done before the first change: the plan is parsed,
 * every file it touches is checked against its fingerprint (and re-hashed), every name it creates is
 * checked absent, no directory on the way is a symlink, and the content of every new file is computed.
 * Then the journal (src/fsops/journal.ts) carries the operations out; on any failure, or on a regression
 * that `verify` finds, it is rolled back. A journal left by a killed run is finished (same plan) or rolled
 * back (another plan) first.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PyfloppyError, readUserFile } from '../errors.js';
import {
  beginJournal,
  commitJournal,
  JournalError,
  journalPath,
  readJournal,
  rollbackJournal,
  runOperations,
  type JournalCalls,
  realJournalCalls,
} from '../fsops/journal.js';
import type { Bytes } from '../model/footprint.js';
import {
  gzipSource,
  parsePlan,
  type Plan,
  type PlanFingerprint,
  type PlanOperation,
  sha256File,
  zipInput,
} from '../plan/plan.js';
import { buildZip, type ZipInput } from '../plan/zip.js';
import { regressions, type Regression, verify, type VerifyReport } from '../verify/verify.js';
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
  verify?: { python: string; levels?: number[]; baseline?: VerifyReport; exclude?: string[] };
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
  saved: Bytes;
  mismatches: Mismatch[];
  failure?: string;
  verify?: { before: VerifyReport; after?: VerifyReport; regressions: Regression[] };
  rollback?: { restored: number; conflicts: string[] };
}

function readPlanFile(file: string): { plan: Plan; text: string } {
  const text = readUserFile(file);
  return { plan: parsePlan(text, file), text };
}

function checkRoot(plan: Plan): void {
  const st = fs.statSync(plan.root, { bigint: true, throwIfNoEntry: false });
  if (st === undefined)
    throw new PyfloppyError('ENOTFOUND', `${plan.root}: no such directory (the plan's root)`);
  if (!st.isDirectory()) throw new PyfloppyError('ENOTDIR', `${plan.root}: not a directory`);
  if (st.dev.toString() !== plan.rootFp.dev || st.ino.toString() !== plan.rootFp.ino)
    throw new PyfloppyError('EUSAGE', `${plan.root} is not the directory the plan was made for`, {
      hint: 'the directory was replaced since: make a new plan',
      exitCode: 1,
    });
}

function fpMismatch(abs: string, fp: PlanFingerprint, hash: boolean): string | null {
  const st = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
  if (st === undefined) return 'no longer exists';
  if (st.dev.toString() !== fp.dev || st.ino.toString() !== fp.ino) return 'replaced by another file';
  if (st.isDirectory()) return null;
  if (Number(st.size) !== fp.size) return `size ${st.size}, planned ${fp.size}`;
  if (st.mtimeNs.toString() !== fp.mtimeNs) return 'modified (mtime)';
  if (st.ctimeNs.toString() !== fp.ctimeNs) return 'changed (ctime)';
  if (hash && fp.sha256 !== undefined && st.isFile() && sha256File(abs) !== fp.sha256)
    return 'content differs';
  return null;
}

/**
 * Check a plan against the tree: every fingerprint (with content hashes), every name to create absent, no
 * symlink on the way. Returns the contents of the files to write.
 */
export function preflight(plan: Plan): {
  mismatches: Mismatch[];
  contents: Map<number, Uint8Array>;
  zips: Map<number, ZipInput[]>;
} {
  const mismatches: Mismatch[] = [];
  const contents = new Map<number, Uint8Array>();
  const zips = new Map<number, ZipInput[]>();
  const abs = (rel: string): string => path.join(plan.root, rel);
  const created = new Set<string>();
  const targets = new Set<string>();
  const dirOk = new Map<string, boolean>();
  // Why: paths are joined to the root; a directory on the way replaced by a symlink would lead outside it.
  const parentsReal = (rel: string): boolean => {
    const dir = path.posix.dirname(rel);
    if (dir === '.' || created.has(dir)) return true;
    let v = dirOk.get(dir);
    if (v === undefined) {
      try {
        v = fs.realpathSync(abs(dir)) === abs(dir);
      } catch {
        v = false;
      }
      dirOk.set(dir, v);
    }
    return v;
  };
  // Files whose bytes were read and hashed here already (a source gzipped or zipped, then removed).
  const verified = new Map<string, string | undefined>();
  const need = (rel: string, fp: PlanFingerprint): void => {
    if (!parentsReal(rel)) {
      mismatches.push({ path: rel, why: 'a directory on its path is a symlink or gone' });
      return;
    }
    const hashed = verified.has(rel) && verified.get(rel) === fp.sha256;
    const why = fpMismatch(abs(rel), fp, !hashed);
    if (why !== null) mismatches.push({ path: rel, why });
  };
  /** The bytes a new file is made of, checked as `need` checks a file, read once. */
  const read = (rel: string, fp: PlanFingerprint): Buffer | undefined => {
    if (!parentsReal(rel)) {
      mismatches.push({ path: rel, why: 'a directory on its path is a symlink or gone' });
      return undefined;
    }
    const r = readVerified(abs(rel), fp);
    if ('why' in r) {
      mismatches.push({ path: rel, why: r.why });
      return undefined;
    }
    verified.set(rel, fp.sha256);
    return r.data;
  };
  const absent = (rel: string): void => {
    if (!parentsReal(rel))
      mismatches.push({ path: rel, why: 'a directory on its path is a symlink or gone' });
    else if (fs.lstatSync(abs(rel), { throwIfNoEntry: false }) !== undefined)
      mismatches.push({ path: rel, why: 'exists (the plan creates it)' });
  };
  plan.operations.forEach((o: PlanOperation, n) => {
    switch (o.op) {
      case 'remove':
      case 'rmdir':
        need(o.path, o.fp);
        break;
      case 'link':
        need(o.path, o.fp);
        // A survivor several levels link to is checked (and hashed) once.
        if (!targets.has(o.target)) need(o.target, o.targetFp);
        targets.add(o.target);
        break;
      case 'move':
        need(o.from, o.fp);
        absent(o.to);
        break;
      case 'write':
        absent(o.path);
        if ('gzipOf' in o.content) {
          const data = read(o.content.gzipOf, o.content.fp);
          if (data !== undefined) contents.set(n, gzipSource(data));
        } else contents.set(n, new Uint8Array(0));
        break;
      case 'zip': {
        absent(o.path);
        const inputs = o.members.map((m) => {
          const data = read(m.from, m.fp);
          return data === undefined ? undefined : zipInput(m.name, data, m.fp);
        });
        if (inputs.every((i) => i !== undefined)) zips.set(n, inputs);
        break;
      }
      case 'mkdir':
        absent(o.path);
        created.add(o.path);
        break;
    }
  });
  // A file named by several operations (a member zipped, then removed) is reported once.
  const seen = new Set<string>();
  return { mismatches: mismatches.filter((m) => !seen.has(m.path) && seen.add(m.path)), contents, zips };
}

/**
 * A file's bytes, read once (never through a symlink) and checked against its fingerprint, then its hash
 * on the very bytes read; or why not.
 */
function readVerified(abs: string, fp: PlanFingerprint): { data: Buffer } | { why: string } {
  const why = fpMismatch(abs, fp, false);
  if (why !== null) return { why };
  let data: Buffer;
  try {
    const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      data = fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    return { why: `unreadable: ${(e as Error).message}` };
  }
  if (fp.sha256 !== undefined && sha256(data) !== fp.sha256) return { why: 'content differs' };
  return { data };
}

/** Build the archives; each must be the planned bytes (same files, same zlib, same timezone). */
async function buildZips(
  plan: Plan,
  zips: Map<number, ZipInput[]>,
  contents: Map<number, Uint8Array>,
  mismatches: Mismatch[],
): Promise<void> {
  for (const [n, inputs] of zips) {
    const o = plan.operations[n] as Extract<PlanOperation, { op: 'zip' }>;
    const bytes = await buildZip(inputs);
    if (bytes.length !== o.size || sha256(bytes) !== o.sha256)
      mismatches.push({
        path: o.path,
        why: `the archive built now (${bytes.length} bytes) is not the planned one (${o.size} bytes): another timezone or zlib than the plan's?`,
      });
    else contents.set(n, bytes);
  }
}

function sha256(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function baseReport(plan: Plan, dryRun: boolean): ApplyReport {
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
    mismatches: [],
  };
}

/** Regressions that count for this plan: modules it removes on purpose and levels it does not ship are not. */
export function planRegressions(plan: Plan, before: VerifyReport, after: VerifyReport): Regression[] {
  const removed = plan.removedModules;
  const gone = (m: string): boolean => removed.some((r) => m === r || m.startsWith(`${r}.`));
  return regressions(before, after, { writeLevels: plan.shippedLevels }).filter(
    (r) => r.kind !== 'missing' || !gone(r.module),
  );
}

export async function apply(options: ApplyOptions): Promise<ApplyReport> {
  const { plan, text } = readPlanFile(options.planFile);
  checkRoot(plan);
  const calls = options.calls ?? realJournalCalls;
  const report = baseReport(plan, options.dryRun === true);
  const journal = readJournal(plan.root);

  if (journal !== null && !options.dryRun) {
    if (journal.plan === text) {
      // The same plan, interrupted: finish it (each step re-checks what is not done yet).
      report.resumed = true;
      if (journal.committing || journal.complete) {
        report.outcome = 'already-applied';
        report.done = plan.operations.length;
        return finish(report, plan, options, calls);
      }
      return run(report, plan, options, calls, await resumeContents(plan), true);
    }
    const other = journal.plan === '' ? null : parsePlan(journal.plan, journalPath(plan.root));
    if (journal.committing) commitJournal(plan.root, calls);
    else {
      const r = rollbackJournal(plan.root, other?.operations ?? [], calls);
      if (r.conflicts.length > 0)
        throw new PyfloppyError(
          'EUSAGE',
          `the journal of an interrupted run could not be rolled back: ${r.conflicts[0]} is in the way`,
          {
            hint: `nothing was changed by this run; see ${journalPath(plan.root)}`,
            exitCode: 1,
          },
        );
    }
    report.rolledBackOther = true;
  } else if (journal !== null) {
    throw new PyfloppyError('EUSAGE', `${plan.root} has the journal of an interrupted run`, {
      hint: 'run `pyfloppy apply --rollback` or apply that plan again first',
    });
  }

  const { mismatches, contents, zips } = preflight(plan);
  if (mismatches.length === 0) await buildZips(plan, zips, contents, mismatches);
  if (mismatches.length > 0) {
    report.outcome = 'refused';
    report.mismatches = mismatches;
    return report;
  }
  if (options.dryRun === true) {
    report.outcome = 'checked';
    return report;
  }
  try {
    fs.accessSync(plan.root, fs.constants.W_OK);
  } catch {
    throw new PyfloppyError('EACCES', `${plan.root}: not writable`, { hint: 'run as the owner of the tree' });
  }
  if (options.verify !== undefined) {
    options.onVerify?.('before');
    const before =
      options.verify.baseline ??
      (await verify({
        path: plan.root,
        python: options.verify.python,
        ...(options.verify.levels === undefined ? {} : { levels: options.verify.levels }),
        ...(options.verify.exclude === undefined ? {} : { exclude: options.verify.exclude }),
      }));
    report.verify = { before, regressions: [] };
  }
  beginJournal(plan.root, text, calls);
  return run(report, plan, options, calls, contents);
}

/** Resuming: the contents of writes not done yet, from sources that must still be the planned ones. */
async function resumeContents(plan: Plan): Promise<Map<number, Uint8Array>> {
  const contents = new Map<number, Uint8Array>();
  const zips = new Map<number, ZipInput[]>();
  plan.operations.forEach((o, n) => {
    const read = (rel: string, fp: PlanFingerprint): Buffer | undefined => {
      const r = readVerified(path.join(plan.root, rel), fp);
      return 'data' in r ? r.data : undefined;
    };
    if (o.op === 'zip') {
      // Members are removed only after their archive is in place: if it is not, they still are.
      const inputs: ZipInput[] = [];
      for (const m of o.members) {
        const data = read(m.from, m.fp);
        if (data === undefined) return;
        inputs.push(zipInput(m.name, data, m.fp));
      }
      zips.set(n, inputs);
    }
    if (o.op !== 'write') return;
    if (!('gzipOf' in o.content)) contents.set(n, new Uint8Array(0));
    else {
      const data = read(o.content.gzipOf, o.content.fp);
      if (data !== undefined) contents.set(n, gzipSource(data));
    }
  });
  // An archive that no longer builds to the planned bytes is not written: the step fails and rolls back.
  await buildZips(plan, zips, contents, []);
  return contents;
}

async function run(
  report: ApplyReport,
  plan: Plan,
  options: ApplyOptions,
  calls: JournalCalls,
  contents: Map<number, Uint8Array>,
  resuming = false,
): Promise<ApplyReport> {
  const total = plan.operations.length;
  try {
    runOperations(
      plan.operations,
      {
        root: plan.root,
        calls,
        content: (o, n) => {
          const data = contents.get(n);
          if (data === undefined)
            throw new JournalError(n, o.path, 'changed', `${o.path}: its source changed`);
          return data;
        },
        ...(resuming
          ? {
              sameContent: (abs: string, fp: PlanFingerprint) =>
                fp.sha256 !== undefined && sha256File(abs) === fp.sha256,
            }
          : {}),
      },
      (done) => {
        report.done = done;
        options.onStep?.(done, total);
      },
    );
  } catch (e) {
    if (!(e instanceof JournalError)) throw e;
    report.failure = e.message;
    report.rollback = rollbackJournal(plan.root, plan.operations, calls);
    report.outcome = 'rolled-back';
    if (report.rollback.conflicts.length > 0) report.journal = journalPath(plan.root);
    return report;
  }
  report.done = total;
  return finish(report, plan, options, calls);
}

async function finish(
  report: ApplyReport,
  plan: Plan,
  options: ApplyOptions,
  calls: JournalCalls,
): Promise<ApplyReport> {
  if (options.verify !== undefined && report.verify !== undefined && report.outcome === 'applied') {
    options.onVerify?.('after');
    const after = await verify({
      path: plan.root,
      python: options.verify.python,
      ...(options.verify.levels === undefined ? {} : { levels: options.verify.levels }),
      ...(options.verify.exclude === undefined ? {} : { exclude: options.verify.exclude }),
    });
    report.verify.after = after;
    report.verify.regressions = planRegressions(plan, report.verify.before, after);
    if (report.verify.regressions.length > 0) {
      report.rollback = rollbackJournal(plan.root, plan.operations, calls);
      report.outcome = 'rolled-back';
      report.failure = `${report.verify.regressions.length} regressions found by verify`;
      if (report.rollback.conflicts.length > 0) report.journal = journalPath(plan.root);
      return report;
    }
  }
  if (options.commit === false) {
    report.journal = journalPath(plan.root);
    return report;
  }
  if (fs.existsSync(journalPath(plan.root))) commitJournal(plan.root, calls);
  report.committed = true;
  return report;
}

/** The root a rollback or commit acts on: a plan file's root, or the directory itself. */
function rootOf(target: string): { root: string; plan: Plan | null } {
  const st = fs.statSync(target, { throwIfNoEntry: false });
  if (st === undefined) throw new PyfloppyError('ENOTFOUND', `${target}: no such file or directory`);
  // Why: the journal names paths from the root's real location (a zip operation's ../pythonXY.zip is
  // beside the real directory, not beside a symlink to it).
  if (st.isDirectory()) return { root: fs.realpathSync(target), plan: null };
  const { plan } = readPlanFile(target);
  return { root: plan.root, plan };
}

export interface RollbackReport {
  root: string;
  /** false when there was no journal to roll back. */
  found: boolean;
  restored: number;
  conflicts: string[];
}

/** Undo an interrupted or uncommitted apply, from its journal. */
export function rollback(target: string, calls: JournalCalls = realJournalCalls): RollbackReport {
  const { root } = rootOf(target);
  const journal = readJournal(root);
  if (journal === null) return { root, found: false, restored: 0, conflicts: [] };
  if (journal.committing)
    throw new PyfloppyError('EUSAGE', `${root}: the journal was being committed; it can only be finished`, {
      hint: 'run `pyfloppy apply --commit` on it',
    });
  const plan = journal.plan === '' ? null : parsePlan(journal.plan, journalPath(root));
  const r = rollbackJournal(root, plan?.operations ?? [], calls);
  return { root, found: true, ...r };
}

/** Delete the journal of a finished apply (made with --no-commit). */
export function commit(
  target: string,
  calls: JournalCalls = realJournalCalls,
): { root: string; found: boolean } {
  const { root } = rootOf(target);
  const journal = readJournal(root);
  if (journal === null) return { root, found: false };
  if (!journal.complete && !journal.committing)
    throw new PyfloppyError('EUSAGE', `${root}: the journal is of an unfinished run`, {
      hint: 'apply the plan again to finish it, or roll it back with `pyfloppy apply --rollback`',
    });
  commitJournal(root, calls);
  return { root, found: true };
}
