/**
 * Acting inside a tree without re-resolving its paths (part of src/fsops, the only code that writes).
 *
 * Node has no openat()/renameat(). What gives their guarantee on Linux is /proc/self/fd/N: the kernel resolves
 * that name to the very directory the descriptor holds, wherever that directory is now, and never through a
 * symlink. So an `Anchor` opens the tree's root (its dev and ino compared with what the caller expects), then
 * each directory on the way down relative to the one above it, with O_DIRECTORY|O_NOFOLLOW: a component that
 * is a symlink (or not a directory, or on another device) is refused, and a step acts on
 * `/proc/self/fd/N/name`, the name inside the directory that was verified.
 *
 * A directory opened once stays open (up to MAX_OPEN), and before every use the path the user sees is checked
 * again, component by component with lstat, to still lead to the same (dev, ino): a directory of the tree that
 * was moved out and replaced by a symlink to it (the files in it are still the planned ones) is refused too.
 * What remains is the window between that check and the system call: a directory moved out of the tree within
 * it is acted on where it now is (it is the planned directory, never a decoy behind a symlink).
 *
 * Where /proc is not mounted, the same checks run and the step uses the plain path: the window then also
 * admits a symlink swapped in between the check and the call. `Anchor.procFd` says which is in use.
 */
import fs from 'node:fs';
import path from 'node:path';

const DIR_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
/** Open directories kept per anchor; more are closed oldest first and opened again when needed. */
const MAX_OPEN = 512;

/**
 * A name that never exists: what a path whose directory is gone stands for, so that lstat answers "absent"
 * and any call that would create it fails with ENOENT.
 */
export const ABSENT = '/proc/self/fd/-1/absent';

export type AnchorProblem =
  'symlink' | 'not-a-directory' | 'other-device' | 'moved' | 'gone' | 'outside' | 'not-utf8';

/** A path that cannot be acted on safely: what is wrong with which directory. */
export class AnchorError extends Error {
  constructor(
    readonly problem: AnchorProblem,
    readonly dir: string,
    message: string,
  ) {
    super(message);
  }
}

interface Opened {
  fd: number;
  dev: bigint;
  ino: bigint;
}

const HAS_PROC_FD = ((): boolean => {
  try {
    return fs.statSync('/proc/self/fd').isDirectory();
  } catch {
    return false;
  }
})();

function describe(problem: AnchorProblem): string {
  switch (problem) {
    case 'symlink':
      return 'is a symlink now';
    case 'not-a-directory':
      return 'is no longer a directory';
    case 'other-device':
      return 'is on another device';
    case 'moved':
      return 'was replaced by another directory';
    case 'gone':
      return 'no longer exists';
    case 'outside':
      return 'leads outside the tree';
    case 'not-utf8':
      return 'has a directory name that is not UTF-8 (only file names may be)';
  }
}

export class Anchor {
  /** True when steps act through /proc/self/fd (no window for a symlink swap). */
  static readonly procFd = HAS_PROC_FD;
  readonly dev: bigint;
  readonly ino: bigint;
  private readonly open = new Map<string, Opened>();

  /**
   * Open `root` (absolute, resolved). With `expect`, its (dev, ino) must be those: the directory the caller
   * planned for, not one put in its place. With `crossDevices`, directories on other devices below the root (mount points a tree may hold; dedup
   * links within each) are accepted: each is still opened without following symlinks and checked by
   * (dev, ino) before every use.
   */
  constructor(
    readonly root: string,
    expect?: { dev: string | bigint; ino: string | bigint },
    private readonly options: { crossDevices?: boolean } = {},
  ) {
    const fd = openDir(root, root);
    const st = fs.fstatSync(fd, { bigint: true });
    if (expect !== undefined && (st.dev !== BigInt(expect.dev) || st.ino !== BigInt(expect.ino))) {
      fs.closeSync(fd);
      throw new AnchorError('moved', root, `${root} ${describe('moved')}`);
    }
    this.dev = st.dev;
    this.ino = st.ino;
    this.open.set('.', { fd, dev: st.dev, ino: st.ino });
  }

  /**
   * A name to pass to fs calls for `rel` (a plain relative path, '/'-separated; or `../NAME`, beside the
   * root): the last component inside its verified parent directory. Throws AnchorError.
   */
  at(rel: string): string;
  at(rel: Buffer): Buffer;
  at(rel: string | Buffer): string | Buffer;
  at(rel: string | Buffer): string | Buffer {
    if (typeof rel !== 'string') return this.atBytes(rel);
    const slash = rel.lastIndexOf('/');
    const dir = slash < 0 ? '.' : rel.slice(0, slash);
    const name = rel.slice(slash + 1);
    if (name === '' || name === '.' || name === '..')
      throw new AnchorError('outside', rel, `${rel} ${describe('outside')}`);
    return `${this.dir(dir)}/${name}`;
  }

  /**
   * As `at`, or null when a directory on the way does not exist (an rmdir moved it into the journal, or a
   * mkdir has not made it yet): the path is then simply absent. A symlink or a moved directory still throws.
   */
  find(rel: string): string | null {
    try {
      return this.at(rel);
    } catch (e) {
      if (e instanceof AnchorError && e.problem === 'gone') return null;
      throw e;
    }
  }

  /**
   * `at()` for a path read as bytes (a file name that is not UTF-8): the directories above it must be UTF-8
   * (the anchor keys and checks them as strings), the last component may be any bytes.
   */
  private atBytes(rel: Buffer): Buffer {
    const slash = rel.lastIndexOf(0x2f);
    const dirBytes = slash < 0 ? Buffer.from('.') : rel.subarray(0, slash);
    const dir = dirBytes.toString('utf8');
    if (!Buffer.from(dir).equals(dirBytes))
      throw new AnchorError('not-utf8', dir, `${this.plain(dir)} ${describe('not-utf8')}`);
    const name = rel.subarray(slash + 1);
    if (name.length === 0 || name.equals(Buffer.from('.')) || name.equals(Buffer.from('..')))
      throw new AnchorError('outside', dir, `${this.plain(dir)}/... ${describe('outside')}`);
    return Buffer.concat([Buffer.from(`${this.dir(dir)}/`), name]);
  }

  /**
   * The name `rel` inside its parent directory as opened when last verified, without checking the path
   * again; undefined when that directory is not open or /proc is missing. Only for removing a temporary this
   * run made there: that directory is the one that was verified, wherever it is now, never a decoy.
   */
  atOpened(rel: string): string | undefined {
    const slash = rel.lastIndexOf('/');
    const o = this.open.get(slash < 0 ? '.' : rel.slice(0, slash));
    return HAS_PROC_FD && o !== undefined ? `/proc/self/fd/${o.fd}/${rel.slice(slash + 1)}` : undefined;
  }

  /** A name for the directory `rel` itself ('.' for the root, '..' for its parent), verified. */
  dir(rel: string): string {
    const o = rel === '..' ? this.parentOfRoot() : this.verified(rel);
    return HAS_PROC_FD ? `/proc/self/fd/${o.fd}` : this.plain(rel);
  }

  /** A message with the anchor's /proc/self/fd/N names put back as the paths a user knows. */
  readable(text: string): string {
    return text.replace(/\/proc\/self\/fd\/(\d+)/g, (whole, fd: string) => {
      for (const [rel, o] of this.open)
        if (o.fd === Number(fd)) return rel === '..' ? path.dirname(this.root) : this.plain(rel);
      return whole;
    });
  }

  /** The real path of `rel`, for messages. */
  plain(rel: string): string {
    return rel === '.' ? this.root : path.join(this.root, rel);
  }

  /** Close every directory. The anchor can still be used: directories are opened again. */
  close(): void {
    for (const o of this.open.values()) fs.closeSync(o.fd);
    this.open.clear();
  }

  /** The directory holding the root, for an archive beside it (a stdlib's pythonXY.zip). */
  private parentOfRoot(): Opened {
    this.verified('.');
    let o = this.open.get('..');
    const up = path.dirname(this.root);
    const st = fs.lstatSync(up, { bigint: true, throwIfNoEntry: false });
    if (o === undefined) {
      const fd = openDir(HAS_PROC_FD ? `/proc/self/fd/${this.open.get('.')!.fd}/..` : up, up);
      const f = fs.fstatSync(fd, { bigint: true });
      o = { fd, dev: f.dev, ino: f.ino };
      this.remember('..', o);
    }
    if (st === undefined || st.dev !== o.dev || st.ino !== o.ino)
      throw new AnchorError('moved', up, `${up} ${describe('moved')}`);
    return o;
  }

  /**
   * The opened directory `rel`, after checking that the path from the root leads to it now: each component
   * an lstat'ed directory (never a symlink) with the identity it had when it was opened.
   */
  private verified(rel: string): Opened {
    const parts = rel === '.' ? [] : rel.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..'))
      throw new AnchorError('outside', rel, `${rel} ${describe('outside')}`);
    let current = this.checked('.', undefined, '');
    let prefix = '';
    for (const part of parts) {
      prefix = prefix === '' ? part : `${prefix}/${part}`;
      current = this.checked(prefix, current, part);
    }
    return current;
  }

  /** One component: opened relative to its parent if not yet, then compared with what lstat says now. */
  private checked(prefix: string, parent: Opened | undefined, part: string): Opened {
    const real = this.plain(prefix);
    let o = this.open.get(prefix);
    if (o === undefined) {
      const at = HAS_PROC_FD && parent !== undefined ? `/proc/self/fd/${parent.fd}/${part}` : real;
      const fd = openDir(at, real);
      const st = fs.fstatSync(fd, { bigint: true });
      o = { fd, dev: st.dev, ino: st.ino };
      // Why: the root opened again after close() must still be the directory the anchor was made for.
      const wrong: AnchorProblem | null = prefix === '.' && o.ino !== this.ino ? 'moved' : null;
      if (wrong !== null || (o.dev !== this.dev && this.options.crossDevices !== true)) {
        fs.closeSync(fd);
        const problem = wrong ?? 'other-device';
        throw new AnchorError(problem, real, `${real} ${describe(problem)}`);
      }
      this.remember(prefix, o);
    }
    const st = lstatExact(real);
    const problem: AnchorProblem | null =
      st === undefined
        ? 'gone'
        : st.isSymbolicLink()
          ? 'symlink'
          : !st.isDirectory()
            ? 'not-a-directory'
            : st.dev !== o.dev || st.ino !== o.ino
              ? 'moved'
              : null;
    if (problem !== null) throw new AnchorError(problem, real, `${real} ${describe(problem)}`);
    return o;
  }

  private remember(prefix: string, o: Opened): void {
    if (this.open.size >= MAX_OPEN) {
      for (const [k, v] of this.open) {
        if (k === '.') continue;
        fs.closeSync(v.fd);
        this.open.delete(k);
        break;
      }
    }
    this.open.set(prefix, o);
  }
}

/**
 * lstat with exact dev and ino. Why not always bigint: this runs for every component before every step, and
 * bigint stats cost several times more; numbers are exact below 2^53, and only above it is bigint asked for.
 */
function lstatExact(
  p: string,
): { dev: bigint; ino: bigint; isSymbolicLink(): boolean; isDirectory(): boolean } | undefined {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (st === undefined) return undefined;
  if (Number.isSafeInteger(st.ino) && Number.isSafeInteger(st.dev))
    return {
      dev: BigInt(st.dev),
      ino: BigInt(st.ino),
      isSymbolicLink: () => st.isSymbolicLink(),
      isDirectory: () => st.isDirectory(),
    };
  return fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
}

/** Open a directory without following a symlink at its last component; errors become AnchorErrors. */
function openDir(at: string, real: string): number {
  try {
    return fs.openSync(at, DIR_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const problem: AnchorProblem =
      code === 'ENOENT'
        ? 'gone'
        : code === 'ELOOP'
          ? 'symlink'
          : code === 'ENOTDIR'
            ? fs.lstatSync(real, { throwIfNoEntry: false })?.isSymbolicLink() === true
              ? 'symlink'
              : 'not-a-directory'
            : 'not-a-directory';
    if (code !== 'ENOENT' && code !== 'ELOOP' && code !== 'ENOTDIR') throw e;
    throw new AnchorError(problem, real, `${real} ${describe(problem)}`);
  }
}
