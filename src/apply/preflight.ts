/**
 * Preflight: everything that can fail is found before the first change. Every file a plan touches is
 * checked against its fingerprint (and re-hashed), every name it creates is checked absent, no directory
 * on the way is a symlink, and the content of every new file is computed (archives rebuilt and compared
 * with the plan's size and SHA-256). It only reads.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Plan, type PlanFingerprint, type PlanOperation, sha256File, zipInput } from '../plan/plan.js';
import { buildZip, type ZipInput } from '../plan/zip.js';
import { madeFrom, makeContent } from '../plan/files.js';
import type { Mismatch } from './report.js';

export interface Preflight {
  mismatches: Mismatch[];
  /** The bytes of each new file, by operation index. */
  contents: Map<number, Uint8Array>;
  /** The members of each archive to build, by operation index. */
  zips: Map<number, ZipInput[]>;
}

/**
 * Check a plan against the tree: every fingerprint (with content hashes), every name to create absent, no
 * symlink on the way. Returns the contents of the files to write.
 */
export function preflight(plan: Plan): Preflight {
  const check = new TreeCheck(plan.root);
  const contents = new Map<number, Uint8Array>();
  const zips = new Map<number, ZipInput[]>();
  plan.operations.forEach((o, n) => checkOperation(check, o, n, contents, zips));
  return { mismatches: check.reported(), contents, zips };
}

/** One operation's checks, in the plan's order; the content of a write or the members of a zip read. */
function checkOperation(
  check: TreeCheck,
  o: PlanOperation,
  n: number,
  contents: Map<number, Uint8Array>,
  zips: Map<number, ZipInput[]>,
): void {
  switch (o.op) {
    case 'remove':
    case 'rmdir':
      check.need(o.path, o.fp);
      break;
    case 'link':
      check.need(o.path, o.fp);
      check.needTarget(o.target, o.targetFp);
      break;
    case 'move':
      check.need(o.from, o.fp);
      check.absent(o.to);
      break;
    case 'write': {
      check.absent(o.path);
      const from = madeFrom(o.content);
      const data = from === undefined ? undefined : check.read(from.from, from.fp);
      if (from === undefined || data !== undefined) contents.set(n, makeContent(o.content, data));
      break;
    }
    case 'replace':
      check.need(o.path, o.fp);
      contents.set(n, makeContent(o.content, undefined));
      break;
    case 'zip': {
      check.absent(o.path);
      const inputs = o.members.map((m) => {
        const data = check.read(m.from, m.fp);
        return data === undefined ? undefined : zipInput(m, data);
      });
      if (inputs.every((i) => i !== undefined)) zips.set(n, inputs);
      break;
    }
    case 'mkdir':
      check.absent(o.path);
      check.created(o.path);
      break;
  }
}

const NOT_REAL = 'a directory on its path is a symlink or gone';

/** Preflight's checks of names in the tree, and what they remember between operations. */
class TreeCheck {
  private readonly mismatches: Mismatch[] = [];
  /** Directories the plan makes, for the operations after their mkdir. */
  private readonly made = new Set<string>();
  /** Link survivors checked already. */
  private readonly targets = new Set<string>();
  // Why: a directory on the way replaced by a symlink would lead outside the tree. Preflight is a snapshot
  // that only reads: each directory is checked once, by its real path (no symlink on the way); every step
  // then acts through the anchor, which checks again. Opening every directory here through the anchor
  // would hold more directories open than it keeps on a large tree, and each step would open them again.
  private readonly dirs = new Map<string, boolean>([['.', true]]);
  // Files whose bytes were read and hashed here already (a source gzipped or zipped, then removed).
  private readonly verified = new Map<string, string | undefined>();

  constructor(private readonly root: string) {}

  /** The file is the planned one (fingerprint; content hashed unless read and hashed here already). */
  need(rel: string, fp: PlanFingerprint): void {
    if (!this.parentsReal(rel)) {
      this.mismatches.push({ path: rel, why: NOT_REAL });
      return;
    }
    const hashed = this.verified.has(rel) && this.verified.get(rel) === fp.sha256;
    const why = fpMismatch(this.abs(rel), fp, !hashed);
    if (why !== null) this.mismatches.push({ path: rel, why });
  }

  /** A survivor several levels link to is checked (and hashed) once. */
  needTarget(rel: string, fp: PlanFingerprint): void {
    if (!this.targets.has(rel)) this.need(rel, fp);
    this.targets.add(rel);
  }

  /** The bytes a new file is made of, checked as `need` checks a file, read once. */
  read(rel: string, fp: PlanFingerprint): Buffer | undefined {
    if (!this.parentsReal(rel)) {
      this.mismatches.push({ path: rel, why: NOT_REAL });
      return undefined;
    }
    const r = readVerified(this.abs(rel), fp);
    if ('why' in r) {
      this.mismatches.push({ path: rel, why: r.why });
      return undefined;
    }
    this.verified.set(rel, fp.sha256);
    return r.data;
  }

  /** A name the plan creates does not exist yet. */
  absent(rel: string): void {
    if (!this.parentsReal(rel)) this.mismatches.push({ path: rel, why: NOT_REAL });
    else if (fs.lstatSync(this.abs(rel), { throwIfNoEntry: false }) !== undefined)
      this.mismatches.push({ path: rel, why: 'exists (the plan creates it)' });
  }

  created(dir: string): void {
    this.made.add(dir);
  }

  /** The mismatches, a file named by several operations (a member zipped, then removed) once. */
  reported(): Mismatch[] {
    const seen = new Set<string>();
    return this.mismatches.filter((m) => !seen.has(m.path) && seen.add(m.path));
  }

  private abs(rel: string): string {
    return path.join(this.root, rel);
  }

  private parentsReal(rel: string): boolean {
    const dir = path.posix.dirname(rel);
    return (dir !== '.' && this.made.has(dir)) || this.realDir(dir);
  }

  private realDir(dir: string): boolean {
    let ok = this.dirs.get(dir);
    if (ok === undefined) {
      // One lstat per directory of the tree, its parent checked (and remembered) first.
      const st = fs.lstatSync(path.join(this.root, dir), { throwIfNoEntry: false });
      ok = this.realDir(path.posix.dirname(dir)) && st !== undefined && st.isDirectory();
      this.dirs.set(dir, ok);
    }
    return ok;
  }
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
 * A file's bytes, read once (never through a symlink) and checked against its fingerprint, then its hash
 * on the very bytes read; or why not.
 */
export function readVerified(abs: string, fp: PlanFingerprint): { data: Buffer } | { why: string } {
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
export async function buildZips(
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
