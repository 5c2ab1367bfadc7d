/**
 * The only code that writes to the file system (with its siblings in src/fsops/). Every change is atomic:
 * a file is replaced by linking the survivor to a temporary sibling of the target and renaming that over the
 * target, so the target path holds its old or its new (byte-identical) content at every instant, also if
 * the process is killed. Right before acting, both files are checked against the fingerprints they had when
 * they were compared; a file that changed is never touched. Nothing is ever copied or symlinked instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { AnchorError } from './anchor.js';
import { at } from './at.js';
import { type Fingerprint, fingerprintOf, isRegular, sameInode, unchanged } from './fingerprint.js';
import { isLeftoverTemp, LINK_TEMP_NAME, tempName } from './temp.js';

/** The system calls used, as a seam: tests inject failures (EXDEV, EMLINK, ENOSPC, ...) here. */
export interface FsCalls {
  link(existing: string | Buffer, created: string | Buffer): void;
  rename(from: string | Buffer, to: string | Buffer): void;
  unlink(p: string | Buffer): void;
  lstat(p: string | Buffer): fs.BigIntStats | undefined;
  /**
   * Where calls act through verified directories (src/fsops/anchored.ts): throw the AnchorError that makes
   * `p` unsafe, if any. Asked only after a file was found changed, to name the cause (a symlink on the way).
   */
  explain?(p: string | Buffer): void;
}

export const realCalls: FsCalls = {
  link: (a, b) => at.link(a, b),
  rename: (a, b) => at.rename(a, b),
  unlink: (p) => at.unlink(p),
  lstat: (p) => fs.lstatSync(p, { bigint: true, throwIfNoEntry: false }),
};

/** Why a link was not made. The errno codes are the ones a file system may answer; the rest are checks. */
export type SkipReason =
  | 'changed' // a file changed (or vanished, or became something else) since it was compared
  | 'already-linked' // the two names are one inode already
  | 'unsafe' // a directory on the way is a symlink now, or moved: refused, nothing done outside the tree
  | 'EXDEV'
  | 'EMLINK'
  | 'EPERM'
  | 'EACCES'
  | 'EROFS'
  | 'ENOTSUP'
  | 'ENOSPC'
  | 'EIO'
  | 'OTHER';

export type LinkResult =
  | {
      ok: true;
      /** The survivor's fingerprint after the link (its ctime and link count change). */ survivor: Fingerprint;
    }
  | { ok: false; reason: SkipReason; message: string };

type LinkFailure = Extract<LinkResult, { ok: false }>;
type Expect = { survivor: Fingerprint; target: Fingerprint };

/** Names of pyfloppy's link temporaries: recognizable, so a run after a crash can clean them up. */
export const TEMP_NAME = LINK_TEMP_NAME;

function join(dir: string | Buffer, name: string): string | Buffer {
  return typeof dir === 'string' ? path.join(dir, name) : Buffer.concat([dir, Buffer.from(`/${name}`)]);
}

function dirOf(p: string | Buffer): string | Buffer {
  if (typeof p === 'string') return path.dirname(p);
  const slash = p.lastIndexOf(0x2f);
  return slash <= 0 ? Buffer.from(slash === 0 ? '/' : '.') : p.subarray(0, slash);
}

const KNOWN: readonly SkipReason[] = [
  'EXDEV',
  'EMLINK',
  'EPERM',
  'EACCES',
  'EROFS',
  'ENOTSUP',
  'ENOSPC',
  'EIO',
];

function failure(e: unknown, what: string): LinkFailure {
  if (e instanceof AnchorError) return { ok: false, reason: 'unsafe', message: `refused: ${e.message}` };
  let code = errnoCode(e) ?? 'OTHER';
  if (code === 'EOPNOTSUPP') code = 'ENOTSUP';
  const reason = (KNOWN as readonly string[]).includes(code) ? (code as SkipReason) : 'OTHER';
  return { ok: false, reason, message: `${what}: ${(e as Error).message}` };
}

/**
 * Make `target` another name of `survivor`'s inode, atomically, if and only if both are still the files
 * described by `expect` (same device, inode, size, mtime and ctime). Never throws for file-system errors:
 * the result says why nothing was done. On any failure the target is untouched and no temporary is left.
 */
export function replaceWithLink(
  survivor: string | Buffer,
  target: string | Buffer,
  expect: { survivor: Fingerprint; target: Fingerprint },
  calls: FsCalls = realCalls,
): LinkResult {
  const r = linkOver(survivor, target, expect, calls);
  if (r.ok || r.reason !== 'changed' || calls.explain === undefined) return r;
  try {
    calls.explain(survivor);
    calls.explain(target);
  } catch (e) {
    return failure(e, 'check');
  }
  return r;
}

function linkOver(
  survivor: string | Buffer,
  target: string | Buffer,
  expect: Expect,
  calls: FsCalls,
): LinkResult {
  const sf = checkPair(survivor, target, expect, calls);
  if ('reason' in sf) return sf;
  // 1. A new name for the survivor beside the target. link() never overwrites: an existing name (ours from
  //    a crashed run, or anybody's) answers EEXIST and the next name is tried.
  const tmp = linkTemporary(survivor, target, calls);
  if (typeof tmp !== 'string' && !Buffer.isBuffer(tmp)) return tmp;
  // 2. The closest re-check before the rename.
  const changed = recheck(tmp, target, sf, expect.target, calls);
  if (changed !== null) {
    dropTemporary(tmp, calls);
    return changed;
  }
  // 3. rename() replaces the target atomically.
  try {
    calls.rename(tmp, target);
  } catch (e) {
    dropTemporary(tmp, calls);
    return failure(e, 'rename');
  }
  return afterRename(tmp, survivor, sf, calls);
}

/** Both files still the compared ones, regular, two inodes on one device: the survivor's fingerprint. */
function checkPair(
  survivor: string | Buffer,
  target: string | Buffer,
  expect: Expect,
  calls: FsCalls,
): Fingerprint | LinkFailure {
  let s: fs.BigIntStats | undefined;
  let t: fs.BigIntStats | undefined;
  try {
    s = calls.lstat(survivor);
    t = calls.lstat(target);
  } catch (e) {
    return failure(e, 'lstat');
  }
  if (s === undefined || t === undefined)
    return { ok: false, reason: 'changed', message: 'no longer exists' };
  const sf = fingerprintOf(s);
  const tf = fingerprintOf(t);
  if (!isRegular(sf) || !isRegular(tf))
    return { ok: false, reason: 'changed', message: 'no longer a regular file' };
  if (!unchanged(sf, expect.survivor) || !unchanged(tf, expect.target)) {
    return { ok: false, reason: 'changed', message: 'changed since it was compared' };
  }
  if (sameInode(sf, tf)) return { ok: false, reason: 'already-linked', message: 'already one inode' };
  // Why: a hard link cannot cross file systems; say so rather than fail in link().
  if (sf.dev !== tf.dev) return { ok: false, reason: 'EXDEV', message: 'on different devices' };
  return sf;
}

/** A fresh temporary name of the survivor in the target's directory (never overwriting a name). */
function linkTemporary(
  survivor: string | Buffer,
  target: string | Buffer,
  calls: FsCalls,
): string | Buffer | LinkFailure {
  const dir = dirOf(target);
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = join(dir, tempName('link'));
    try {
      calls.link(survivor, candidate);
      return candidate;
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') return failure(e, 'link');
    }
  }
  return { ok: false, reason: 'OTHER', message: 'no free temporary name' };
}

/**
 * Right before the rename: the temporary must be the survivor's inode (the survivor path was not swapped
 * between lstat and link), and the target must still be what was compared. Null when both hold.
 */
function recheck(
  tmp: string | Buffer,
  target: string | Buffer,
  sf: Fingerprint,
  expectTarget: Fingerprint,
  calls: FsCalls,
): LinkFailure | null {
  try {
    const tmpSt = calls.lstat(tmp);
    const t2 = calls.lstat(target);
    if (tmpSt === undefined || !sameInode(fingerprintOf(tmpSt), sf))
      return { ok: false, reason: 'changed', message: 'survivor replaced while linking' };
    if (t2 === undefined || !unchanged(fingerprintOf(t2), expectTarget))
      return { ok: false, reason: 'changed', message: 'changed since it was compared' };
  } catch (e) {
    return failure(e, 'lstat');
  }
  return null;
}

function dropTemporary(tmp: string | Buffer, calls: FsCalls): void {
  try {
    calls.unlink(tmp);
  } catch {
    // Why: best effort; the temporary is another name of an unchanged file, it holds nothing unique.
  }
}

/** The link made: the temporary cleaned up if rename() left it, the survivor's new fingerprint. */
function afterRename(
  tmp: string | Buffer,
  survivor: string | Buffer,
  sf: Fingerprint,
  calls: FsCalls,
): LinkResult {
  // Why: rename() of two names of one inode succeeds and does nothing (POSIX), leaving the temporary. Only
  // that case is cleaned: a name that is now another inode is not ours to remove.
  try {
    const left = calls.lstat(tmp);
    if (left !== undefined && sameInode(fingerprintOf(left), sf)) dropTemporary(tmp, calls);
    const after = calls.lstat(survivor);
    return { ok: true, survivor: after === undefined ? sf : fingerprintOf(after) };
  } catch {
    return { ok: true, survivor: sf };
  }
}

/**
 * Remove a temporary name left by a killed run, only when it is still another name of a file that has one
 * (link count 2 or more): then it holds nothing that is not also elsewhere.
 */
export function removeLeftover(p: string | Buffer, calls: FsCalls = realCalls): boolean {
  const st = calls.lstat(p);
  if (st === undefined || !st.isFile() || st.nlink < 2n) return false;
  calls.unlink(p);
  return true;
}

/**
 * Remove any pyfloppy temporary left by a run that is over (its pid is neither this process nor a live one;
 * `dedup` and `compile` at start): only a regular file. Cache and write temporaries are partial copies that
 * no name refers to. A link temporary (also the `PID-N` form, which compile once used for caches too) only
 * while removeLeftover() would remove it, unless `inCache`: in a __pycache__ directory everything is derived
 * data, so a lone old-form name there (a partial cache of an older compile) is removed as well.
 */
export function removeStaleTemp(p: string | Buffer, calls: FsCalls = realCalls, inCache = false): boolean {
  const s = typeof p === 'string' ? p : p.toString('latin1');
  const name = s.slice(s.lastIndexOf('/') + 1);
  if (!isLeftoverTemp(name)) return false;
  if (LINK_TEMP_NAME.test(name) && !inCache) return removeLeftover(p, calls);
  const st = calls.lstat(p);
  if (st === undefined || !st.isFile()) return false;
  calls.unlink(p);
  return true;
}
