/**
 * The anchors of a run's roots, and the FsCalls that act through them (part of src/fsops). `dedup` names
 * files by absolute paths (the scan's table); every system call of a link (lstat, link, rename, unlink) maps
 * its path to the name inside the verified parent directory (`Anchor.at`) right before the call, so a
 * directory of the tree swapped for a symlink (to a decoy, or to the real directory moved out) between two
 * calls refuses the next one with an AnchorError instead of acting outside the tree.
 */
import { fromSystemError, PyfloppyError } from '../errors.js';
import { Anchor, AnchorError } from './anchor.js';
import type { FsCalls } from './link.js';
import { ANY_TEMP_NAME } from './temp.js';

/** A root as sent to a worker thread: its real path and the identity its anchor must find there. */
export interface RootIdentity {
  path: string;
  dev: string;
  ino: string;
}

export class TreeAnchors {
  private readonly anchors: Array<Anchor | undefined>;
  private readonly prefixes: Buffer[];
  private readonly rootPath: string;

  /** Roots are real paths. With identities, each root is opened on first use and must be that directory. */
  constructor(private readonly roots: ReadonlyArray<string | RootIdentity>) {
    this.anchors = roots.map(() => undefined);
    this.prefixes = roots.map((r) => Buffer.from(`${typeof r === 'string' ? r : r.path}/`));
    const first = roots[0];
    this.rootPath = first === undefined ? '' : `${typeof first === 'string' ? first : first.path}/`;
  }

  /** The anchor of root k, opened now if not yet (throws AnchorError when it is not the expected dir). */
  anchor(k: number): Anchor {
    let a = this.anchors[k];
    if (a === undefined) {
      const r = this.roots[k]!;
      // Why crossDevices: a tree may hold mount points; links are made within each (EXDEV says otherwise).
      const cross = { crossDevices: true };
      a =
        typeof r === 'string'
          ? new Anchor(r, undefined, cross)
          : new Anchor(r.path, { dev: r.dev, ino: r.ino }, cross);
      this.anchors[k] = a;
    }
    return a;
  }

  identities(): RootIdentity[] {
    return this.roots.map((r, k) => {
      if (typeof r !== 'string') return r;
      const a = this.anchor(k);
      return { path: r, dev: String(a.dev), ino: String(a.ino) };
    });
  }

  /** The root (deepest, for nested roots) holding absolute path `p`, and `p` relative to it. */
  locate(p: string | Buffer): { k: number; rel: string | Buffer } {
    if (typeof p === 'string' && this.roots.length === 1) {
      // Why: one root is the common case; a string prefix test spares a Buffer per system call.
      const pre = this.rootPath;
      if (p.length > pre.length && p.startsWith(pre)) return { k: 0, rel: p.slice(pre.length) };
    }
    const b = typeof p === 'string' ? Buffer.from(p) : p;
    let best = -1;
    for (let k = 0; k < this.prefixes.length; k++) {
      const pre = this.prefixes[k]!;
      const inside = b.length > pre.length && b.subarray(0, pre.length).equals(pre);
      if (inside && (best === -1 || pre.length > this.prefixes[best]!.length)) best = k;
    }
    const shown = typeof p === 'string' ? p : p.toString();
    if (best === -1) throw new AnchorError('outside', shown, `${shown} is not inside the given paths`);
    const rest = b.subarray(this.prefixes[best]!.length);
    return { k: best, rel: typeof p === 'string' ? rest.toString() : rest };
  }

  /** The name to hand to a system call for absolute path `p`: verified now. Throws AnchorError. */
  name(p: string | Buffer): string | Buffer {
    const { k, rel } = this.locate(p);
    return this.anchor(k).at(rel);
  }

  /**
   * For reading only (lstat): the name inside the directory as opened when last verified, without lstat'ing
   * the path again (that directory is the tree's, wherever it is now); verified as `name()` when not open.
   */
  readName(p: string | Buffer): string | Buffer {
    const { k, rel } = this.locate(p);
    const a = this.anchor(k);
    return (typeof rel === 'string' ? a.atOpened(rel) : undefined) ?? a.at(rel);
  }

  /** name() of two paths, one check when both are in one directory (a rename beside its target). */
  names(a: string | Buffer, b: string | Buffer): [string | Buffer, string | Buffer] {
    if (typeof a === 'string' && typeof b === 'string') {
      const la = this.locate(a);
      const lb = this.locate(b);
      const ra = la.rel as string;
      const rb = lb.rel as string;
      const dir = ra.slice(0, Math.max(0, ra.lastIndexOf('/')));
      if (la.k === lb.k && dir === rb.slice(0, Math.max(0, rb.lastIndexOf('/'))) && dir !== '') {
        const d = this.anchor(la.k).dir(dir);
        return [`${d}/${ra.slice(dir.length + 1)}`, `${d}/${rb.slice(dir.length + 1)}`];
      }
    }
    return [this.name(a), this.name(b)];
  }

  close(): void {
    for (const a of this.anchors) a?.close();
  }
}

/**
 * FsCalls acting through `anchors` on top of `base` (the real calls, or a test's). A temporary this run
 * linked is remembered under the name it was made with: if its directory fails the check afterwards, it is
 * still removed there (the directory that was verified, wherever it is now), never left behind.
 */
export function anchoredCalls(anchors: TreeAnchors, base: FsCalls): FsCalls {
  const made = new Map<string, string | Buffer>();
  const key = (p: string | Buffer): string => (typeof p === 'string' ? p : p.toString('latin1'));
  return {
    // Why the existing name unverified: link() changes nothing of the file it names (a new name for it
    // appears only where `b` leads, which is checked); the survivor itself was re-checked by fingerprint.
    link: (a, b) => {
      const to = anchors.name(b);
      base.link(anchors.readName(a), to);
      if (isTemp(b)) made.set(key(b), to);
    },
    rename: (a, b) => {
      const [from, to] = anchors.names(a, b);
      base.rename(from, to);
      made.delete(key(a));
    },
    unlink: (p) => {
      let at: string | Buffer;
      try {
        at = anchors.name(p);
      } catch (e) {
        const ours = made.get(key(p));
        if (!(e instanceof AnchorError) || ours === undefined) throw e;
        at = ours;
      }
      base.unlink(at);
      made.delete(key(p));
    },
    // Why the plain path: an lstat changes nothing, and every call that acts goes through a verified name.
    // What a read through a swapped symlink sees is another inode (the step is then refused as changed) or,
    // for a directory moved out, the same files the verified name leads to. Through /proc/self/fd each lstat
    // cost a procfs lookup: a link's seven of them made dedup a fifth slower.
    lstat: (p) => base.lstat(p),
    explain: (p) => {
      anchors.name(p);
    },
  };
}

function isTemp(p: string | Buffer): boolean {
  const s = typeof p === 'string' ? p : p.toString('latin1');
  return ANY_TEMP_NAME.test(s.slice(s.lastIndexOf('/') + 1));
}

/**
 * A failure of a changing run (`apply`, `dedup`, `compile`) as one typed error: an unsafe tree (EUNSAFE) or a
 * file-system errno (its own code, with `readable` putting real paths back into /proc/self/fd names), never a
 * stack trace; `hint` replaces the errno's own. Anything else (a bug) is returned as it is.
 */
export function asRunError(
  e: unknown,
  command: string,
  readable: (s: string) => string = (s) => s,
  hint?: string,
): unknown {
  if (e instanceof PyfloppyError) return e;
  if (e instanceof AnchorError)
    return new PyfloppyError('EUNSAFE', `${command} refused: ${e.message}; nothing more was changed`, {
      hint: `a directory of the tree was replaced (by a symlink?) while ${command} ran; check the tree and run again`,
      cause: e,
    });
  const sys = fromSystemError(e);
  if (sys === undefined) return e;
  const shown = hint ?? sys.hint;
  return new PyfloppyError(sys.code, readable(`${command}: ${sys.message}`), {
    cause: e,
    ...(shown === undefined ? {} : { hint: shown }),
  });
}
