/**
 * File identity at nanosecond precision: what a file was when it was compared, so that nothing is done to a
 * file that changed since. Read-only.
 */
import fs from 'node:fs';

/** (dev, ino, size, mtime, ctime) plus the metadata a link would impose on the replaced name. */
export interface Fingerprint {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  nlink: bigint;
  mode: bigint;
  uid: bigint;
  gid: bigint;
}

export function fingerprintOf(st: fs.BigIntStats): Fingerprint {
  return {
    dev: st.dev,
    ino: st.ino,
    size: st.size,
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
    nlink: st.nlink,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
  };
}

/** lstat as a fingerprint; undefined when the path no longer exists. */
export function lstatFingerprint(p: string | Buffer): Fingerprint | undefined {
  const st = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
  return st === undefined ? undefined : fingerprintOf(st);
}

/** The same file, unchanged: device, inode, size, mtime and ctime all equal. */
export function unchanged(a: Fingerprint, b: Fingerprint): boolean {
  return (
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

export function sameInode(a: Fingerprint, b: Fingerprint): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

const S_IFMT = 0o170000n;
const S_IFREG = 0o100000n;

export function isRegular(f: Fingerprint): boolean {
  return (f.mode & S_IFMT) === S_IFREG;
}

/** Which of mode, owner, mtime differ between two files ('mode', 'owner', 'mtime'). */
export function metadataDifferences(a: Fingerprint, b: Fingerprint): Array<'mode' | 'owner' | 'mtime'> {
  const out: Array<'mode' | 'owner' | 'mtime'> = [];
  if (a.mode !== b.mode) out.push('mode');
  if (a.uid !== b.uid || a.gid !== b.gid) out.push('owner');
  if (a.mtimeNs !== b.mtimeNs) out.push('mtime');
  return out;
}
