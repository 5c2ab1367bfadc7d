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
import { notWritable, PyfloppyError, readUserFile } from '../errors.js';
import { Anchor, AnchorError } from '../fsops/anchor.js';
import { asRunError } from '../fsops/anchored.js';
import {
  beginJournal,
  commitJournal,
  isEmptyStart,
  JOURNAL_DIR,
  JournalError,
  journalPath,
  type JournalState,
  readJournal,
  rollbackJournal,
  runOperations,
  type JournalCalls,
  realJournalCalls,
} from '../fsops/journal.js';
import { JournalDistrust, journalStates } from '../fsops/journal-check.js';
import { lockTree } from '../fsops/lock.js';
import type { Bytes } from '../model/footprint.js';
import { madeFrom, makeContent } from '../plan/files.js';
import {
  parsePlan,
  type Plan,
  relPaths,
  type PlanFingerprint,
  type PlanOperation,
  sha256File,
  zipInput,
} from '../plan/plan.js';
import { buildZip, type ZipInput } from '../plan/zip.js';
import {
  regressions,
  type Regression,
  type RegrtestOptions,
  verify,
  type VerifyOptions,
  type VerifyReport,
} from '../verify/verify.js';
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

/** Why a file is not the planned one, or null. */
function fpMismatch(abs: string, fp: PlanFingerprint, hash: boolean): string | null {
  const st = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
  if (st === undefined) return 'no longer exists';
  if (st.dev.toString() !== fp.dev || st.ino.toString() !== fp.ino) return 'replaced by another file';
  if (st.isDirectory()) return null;
  if (Number(st.size) !== fp.size) return `size ${st.size}, planned ${fp.size}`;
  if (st.mtimeNs.toString() !== fp.mtimeNs) return 'modified (mtime)';
  if (st.ctimeNs.toString() !== fp.ctimeNs) return 'changed (ctime)';
  if (hash && fp.sha256 !== undefined && st.isFile() && sha256File(abs, Number(st.size)) !== fp.sha256)
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
  const created = new Set<string>();
  const targets = new Set<string>();
  // Why: a directory on the way replaced by a symlink would lead outside the tree. Preflight is a snapshot
  // that only reads: each directory is checked once, by its real path (no symlink on the way); every step
  // then acts through the anchor, which checks again. Opening every directory here through the anchor
  // would hold more directories open than it keeps on a large tree, and each step would open them again.
  const dirs = new Map<string, boolean>([['.', true]]);
  const realDir = (dir: string): boolean => {
    let ok = dirs.get(dir);
    if (ok === undefined) {
      // One lstat per directory of the tree, its parent checked (and remembered) first.
      const st = fs.lstatSync(path.join(plan.root, dir), { throwIfNoEntry: false });
      ok = realDir(path.posix.dirname(dir)) && st !== undefined && st.isDirectory();
      dirs.set(dir, ok);
    }
    return ok;
  };
  const parentsReal = (rel: string): boolean => {
    const dir = path.posix.dirname(rel);
    return (dir !== '.' && created.has(dir)) || realDir(dir);
  };
  const abs = (rel: string): string => path.join(plan.root, rel);
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
      case 'write': {
        absent(o.path);
        const from = madeFrom(o.content);
        const data = from === undefined ? undefined : read(from.from, from.fp);
        if (from === undefined || data !== undefined) contents.set(n, makeContent(o.content, data));
        break;
      }
      case 'zip': {
        absent(o.path);
        const inputs = o.members.map((m) => {
          const data = read(m.from, m.fp);
          return data === undefined ? undefined : zipInput(m, data);
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
    (r) => !(r.kind === 'missing' && gone(r.module)) && !(r.kind === 'tests' && gone(r.package)),
  );
}

/** regrtest runs the tree's `test` package: after a plan that removes it there is nothing to compare. */
function checkRegrtest(plan: Plan, options: ApplyOptions): void {
  if (options.verify?.regrtest === undefined || !plan.removedModules.includes('test')) return;
  throw new PyfloppyError(
    'EUSAGE',
    `--regrtest: the plan removes ${plan.root}/test, the tests it would run`,
    {
      hint: 'verify the other strategies with --regrtest, or run `pyfloppy verify TREE --regrtest --tests-from ORIGINAL` on a copy',
    },
  );
}

export async function apply(options: ApplyOptions): Promise<ApplyReport> {
  const { plan, text } = readPlanFile(options.planFile);
  checkRoot(plan);
  checkRegrtest(plan, options);
  return withTree(plan.root, plan.rootFp, options.dryRun === true ? null : 'apply', (anchor) =>
    applyAnchored(plan, text, anchor, options),
  );
}

async function applyAnchored(
  plan: Plan,
  text: string,
  anchor: Anchor,
  options: ApplyOptions,
): Promise<ApplyReport> {
  const calls = options.calls ?? realJournalCalls;
  const report = baseReport(plan, options.dryRun === true);
  const journal = trustedJournal(anchor, plan.root, calls);
  if (journal !== null && options.dryRun === true)
    throw new PyfloppyError('EUSAGE', `${plan.root} has the journal of an interrupted run`, {
      hint: 'run `pyfloppy apply --rollback` or apply that plan again first',
    });
  if (journal !== null && journal.text === text) return resume(report, plan, anchor, journal, options, calls);
  if (journal !== null) {
    settleOther(anchor, plan.root, journal, calls);
    report.rolledBackOther = true;
  }
  return applyFresh(report, plan, text, anchor, options, calls);
}

/** The same plan, interrupted: finish it (each step re-checks what is not done yet). */
async function resume(
  report: ApplyReport,
  plan: Plan,
  anchor: Anchor,
  journal: TrustedJournal,
  options: ApplyOptions,
  calls: JournalCalls,
): Promise<ApplyReport> {
  report.resumed = true;
  if (journal.state.committing || journal.state.complete) {
    report.outcome = 'already-applied';
    report.done = plan.operations.length;
    return finish(report, plan, anchor, options, calls);
  }
  return run(report, plan, anchor, options, calls, await resumeContents(plan, anchor), true);
}

/** The journal of another plan, interrupted: committed if it was committing, else rolled back. */
function settleOther(anchor: Anchor, root: string, journal: TrustedJournal, calls: JournalCalls): void {
  if (journal.state.committing) return commitJournal(anchor, calls);
  const r = rollbackJournal(anchor, journal.plan.operations, calls);
  if (r.conflicts.length > 0)
    throw new PyfloppyError(
      'EUSAGE',
      `the journal of an interrupted run could not be rolled back: ${r.conflicts[0]} is in the way`,
      { hint: `nothing was changed by this run; see ${journalPath(root)}`, exitCode: 1 },
    );
}

async function applyFresh(
  report: ApplyReport,
  plan: Plan,
  text: string,
  anchor: Anchor,
  options: ApplyOptions,
  calls: JournalCalls,
): Promise<ApplyReport> {
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
  } catch (e) {
    throw notWritable(plan.root, e);
  }
  if (options.verify !== undefined) {
    options.onVerify?.('before');
    const before = options.verify.baseline ?? (await verifyTree(plan, options.verify));
    report.verify = { before, regressions: [] };
  }
  try {
    beginJournal(anchor, text, calls);
  } catch (e) {
    discardJournal(anchor, calls);
    throw asRunError(e, `${journalPath(plan.root)}: cannot start the journal, nothing was changed`, (t) =>
      anchor.readable(t),
    );
  }
  return run(report, plan, anchor, options, calls, contents);
}

function verifyTree(plan: Plan, v: NonNullable<ApplyOptions['verify']>): Promise<VerifyReport> {
  return verify({
    path: plan.root,
    python: v.python,
    ...(v.levels === undefined ? {} : { levels: v.levels }),
    ...(v.exclude === undefined ? {} : { exclude: v.exclude }),
    ...(v.regrtest === undefined ? {} : { regrtest: v.regrtest }),
    ...(v.onProgress === undefined ? {} : { onProgress: v.onProgress }),
  });
}

/** Resuming: the contents of writes not done yet, from sources that must still be the planned ones. */
async function resumeContents(plan: Plan, anchor: Anchor): Promise<Map<number, Uint8Array>> {
  const contents = new Map<number, Uint8Array>();
  const zips = new Map<number, ZipInput[]>();
  plan.operations.forEach((o, n) => {
    const read = (rel: string, fp: PlanFingerprint): Buffer | undefined => {
      let at: string;
      try {
        at = anchor.at(rel);
      } catch (e) {
        if (e instanceof AnchorError) return undefined; // the step itself fails and rolls back
        throw e;
      }
      const r = readVerified(at, fp);
      return 'data' in r ? r.data : undefined;
    };
    if (o.op === 'zip') {
      // Members are removed only after their archive is in place: if it is not, they still are.
      const inputs: ZipInput[] = [];
      for (const m of o.members) {
        const data = read(m.from, m.fp);
        if (data === undefined) return;
        inputs.push(zipInput(m, data));
      }
      zips.set(n, inputs);
    }
    if (o.op !== 'write') return;
    const from = madeFrom(o.content);
    const data = from === undefined ? undefined : read(from.from, from.fp);
    if (from === undefined || data !== undefined) contents.set(n, makeContent(o.content, data));
  });
  // An archive that no longer builds to the planned bytes is not written: the step fails and rolls back.
  await buildZips(plan, zips, contents, []);
  return contents;
}

async function run(
  report: ApplyReport,
  plan: Plan,
  anchor: Anchor,
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
        anchor,
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
    return rolledBack(report, plan, anchor, calls, anchor.readable(e.message));
  }
  report.done = total;
  return finish(report, plan, anchor, options, calls);
}

/** Undo the run after a failed step or a regression; an errno on the way back is one clear error. */
function rolledBack(
  report: ApplyReport,
  plan: Plan,
  anchor: Anchor,
  calls: JournalCalls,
  failure: string,
): ApplyReport {
  report.failure = failure;
  try {
    report.rollback = rollbackJournal(anchor, plan.operations, calls);
  } catch (e) {
    throw asRunError(
      e,
      `${failure}; then the rollback stopped`,
      (t) => anchor.readable(t),
      `the journal is kept at ${journalPath(plan.root)}: fix the cause and run \`pyfloppy apply --rollback\``,
    );
  }
  report.outcome = 'rolled-back';
  if (report.rollback.conflicts.length > 0) report.journal = journalPath(plan.root);
  return report;
}

async function finish(
  report: ApplyReport,
  plan: Plan,
  anchor: Anchor,
  options: ApplyOptions,
  calls: JournalCalls,
): Promise<ApplyReport> {
  if (options.verify !== undefined && report.verify !== undefined && report.outcome === 'applied') {
    options.onVerify?.('after');
    const after = await verifyTree(plan, options.verify);
    report.verify.after = after;
    report.verify.regressions = planRegressions(plan, report.verify.before, after);
    if (report.verify.regressions.length > 0)
      return rolledBack(
        report,
        plan,
        anchor,
        calls,
        `${report.verify.regressions.length} regressions found by verify`,
      );
  }
  if (options.commit === false) {
    report.journal = journalPath(plan.root);
    return report;
  }
  if (fs.lstatSync(anchor.at(JOURNAL_DIR), { throwIfNoEntry: false }) !== undefined)
    commitJournal(anchor, calls);
  report.committed = true;
  return report;
}

/** A journal that could not be started holds no backup: it goes, so that the next run starts clean. */
function discardJournal(anchor: Anchor, calls: JournalCalls): void {
  try {
    if (fs.lstatSync(anchor.at(JOURNAL_DIR), { throwIfNoEntry: false }) !== undefined)
      rollbackJournal(anchor, [], calls);
  } catch {
    // Why: best effort; what is left is an empty start, which the next run recognizes and removes.
  }
}

/**
 * Run `f` on the anchored root, holding the tree's lock when `command` changes it; a symlink or a moved
 * directory on the way, or an errno, becomes one clear error.
 */
async function withTree<T>(
  root: string,
  expect: { dev: string; ino: string } | undefined,
  command: string | null,
  f: (anchor: Anchor) => T | Promise<T>,
): Promise<T> {
  const anchor = openAnchor(root, expect);
  try {
    const lock = command === null ? null : lockTree(root, command, anchor.dir('.'));
    try {
      return await f(anchor);
    } finally {
      lock?.release();
    }
  } catch (e) {
    throw asRunError(e, command ?? 'apply --dry-run', (s) => anchor.readable(s));
  } finally {
    anchor.close();
  }
}

function openAnchor(root: string, expect: { dev: string; ino: string } | undefined): Anchor {
  try {
    return new Anchor(root, expect);
  } catch (e) {
    if (!(e instanceof AnchorError)) throw e;
    throw new PyfloppyError('EUNSAFE', `${root}: ${e.message}`, {
      hint: 'the tree was replaced since the plan was made: make a new plan',
    });
  }
}

/** A journal that proved itself: its state, its plan parsed, and the plan's text. */
interface TrustedJournal {
  state: JournalState;
  plan: Plan;
  text: string;
}

/**
 * The journal left in a tree, once it has proved itself (journal-check.ts), or null when there is none. A
 * journal killed before its plan was in place is removed (it holds nothing). Anything else that does not add
 * up is refused, and nothing is changed.
 */
function trustedJournal(anchor: Anchor, root: string, calls: JournalCalls): TrustedJournal | null {
  const state = readJournal(anchor);
  if (state === null) return null;
  if (isEmptyStart(state)) {
    rollbackJournal(anchor, [], calls);
    return null;
  }
  const distrust = (why: string): PyfloppyError =>
    new PyfloppyError('EUNSAFE', `the journal ${journalPath(root)} cannot be trusted: ${why}`, {
      hint: 'nothing was changed; restore the files it holds by hand, or remove it if the tree is as it should be',
    });
  if (state.plan === '') throw distrust(`it has no ${'plan.json'} but holds ${state.names.length} names`);
  let plan: Plan;
  try {
    plan = parsePlan(state.plan, journalPath(root));
  } catch (e) {
    throw distrust(`its plan is not valid (${(e as Error).message})`);
  }
  if (
    plan.root !== root ||
    plan.rootFp.dev !== anchor.dev.toString() ||
    plan.rootFp.ino !== anchor.ino.toString()
  )
    throw distrust(`its plan is of another tree (${plan.root})`);
  try {
    journalStates(
      plan.operations,
      { anchor, dir: state.dir, committing: state.committing },
      state.names,
      state.complete,
    );
  } catch (e) {
    if (!(e instanceof JournalDistrust)) throw e;
    const o = plan.operations[e.index];
    throw distrust(
      o === undefined ? e.message : `step ${e.index + 1} (${o.op} ${relPaths(o).join(' -> ')}): ${e.message}`,
    );
  }
  return { state, plan, text: state.plan };
}

/** The root a rollback or commit acts on: a plan file's root, or the directory itself. */
function rootOf(target: string): { root: string; plan: Plan | null; text: string | null } {
  const st = fs.statSync(target, { throwIfNoEntry: false });
  if (st === undefined) throw new PyfloppyError('ENOTFOUND', `${target}: no such file or directory`);
  // Why: the journal names paths from the root's real location (a zip operation's ../pythonXY.zip is
  // beside the real directory, not beside a symlink to it).
  if (st.isDirectory()) return { root: fs.realpathSync(target), plan: null, text: null };
  const { plan, text } = readPlanFile(target);
  return { root: plan.root, plan, text };
}

export interface RollbackReport {
  root: string;
  /** false when there was no journal to roll back. */
  found: boolean;
  restored: number;
  conflicts: string[];
}

/** Undo an interrupted or uncommitted apply, from its journal, once the journal has proved itself. */
export function rollback(target: string, calls: JournalCalls = realJournalCalls): Promise<RollbackReport> {
  const { root, plan, text } = rootOf(target);
  return withTree(root, plan?.rootFp, 'apply --rollback', (anchor) => {
    const journal = trustedJournal(anchor, root, calls);
    if (journal === null) return { root, found: false, restored: 0, conflicts: [] };
    if (text !== null && journal.text !== text)
      throw new PyfloppyError('EUSAGE', `${root}: the journal is of another plan than ${target}`, {
        hint: 'name the tree instead of the plan to roll back whatever its journal holds',
      });
    if (journal.state.committing)
      throw new PyfloppyError('EUSAGE', `${root}: the journal was being committed; it can only be finished`, {
        hint: 'run `pyfloppy apply --commit` on it',
      });
    return { root, found: true, ...rollbackJournal(anchor, journal.plan.operations, calls) };
  });
}

/** Delete the journal of a finished apply (made with --no-commit), once it has proved itself. */
export function commit(
  target: string,
  calls: JournalCalls = realJournalCalls,
): Promise<{ root: string; found: boolean }> {
  const { root, plan } = rootOf(target);
  return withTree(root, plan?.rootFp, 'apply --commit', (anchor) => {
    const journal = trustedJournal(anchor, root, calls);
    if (journal === null) return { root, found: false };
    if (!journal.state.complete && !journal.state.committing)
      throw new PyfloppyError('EUSAGE', `${root}: the journal is of an unfinished run`, {
        hint: 'apply the plan again to finish it, or roll it back with `pyfloppy apply --rollback`',
      });
    commitJournal(anchor, calls);
    return { root, found: true };
  });
}
