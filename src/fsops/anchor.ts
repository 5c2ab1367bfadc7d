/**
 * Acting inside a tree without re-resolving its paths (part of src/fsops, the only code that writes).
 *
 * Node has no openat()/renameat(). What gives their guarantee on Linux is /proc/self/fd/N: the kernel resolves
 * that name to the very directory the descriptor holds, wherever that directory is now, and never through a
 * symlink. So an `Anchor` opens the tree's root (its dev and ino compared with what the caller expects), then
 * each directory on the way down relative to the one above it, with O_DIRECTORY|O_NOFOLLOW: a component that
 * is a symlink (or not a directory, or on another device) is refused, and a step acts on
 * `/proc/self/fd/N/name`, the name inside the directory that was verified. The calls that act take that name
 * through src/fsops/at.ts: the native helper's openat-family calls on (N, name) when it is built, else
 * Node's calls on the procfs name (same resolution, a procfs lookup more per call).
 *
 * A directory opened once stays open (up to MAX_OPEN, least recently used closed first), and before every use
 * it is checked to still be where it was: its kernel name (readlink of /proc/self/fd/N, which runs through
 * its ancestors as they are now) must be its path in the tree, else every component is lstat'ed to say what
 * changed. A directory of the tree that was moved out and replaced by a symlink to it (the files in it are
 * still the planned ones) is refused too.
 * What remains is the window between that check and the system call: a directory moved out of the tree within
 * it is acted on where it now is (it is the planned directory, never a decoy behind a symlink).
 *
 * Where /proc is not mounted, every use runs the component-by-component check and the step uses the plain
 * path: the window then also admits a symlink swapped in between the check and the call.
 */
import fs from 'node:fs';
import path from 'node:path';
import { at as calls } from './at.js';

/** Open directories kept per anchor; more are closed oldest first and opened again when needed. */
const MAX_OPEN = 4096;

/**
 * A name that never exists: what a path whose directory is gone stands for, so that lstat answers "absent"
 * and any call that would create it fails with ENOENT.
 */
export const ABSENT = '/proc/self/fd/-1/absent';

/** Not a plain relative path: empty, absolute, or with an empty, `.` or `..` component. */
const NOT_PLAIN = /^$|^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

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
  /** Never closed before close(): a name of it is held across many steps (the journal, the root). */
  pinned?: boolean;
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
  readonly dev: bigint;
  readonly ino: bigint;
  private readonly open = new Map<string, Opened>();
  /** Directories found in place since the current step began (see `beginStep()`); null outside steps. */
  private proven: string[] | null = null;
  /** The plain path of each open descriptor, for reads and messages. */
  private readonly paths = new Map<number, string>();

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
      calls.close(fd);
      throw new AnchorError('moved', root, `${root} ${describe('moved')}`);
    }
    this.dev = st.dev;
    this.ino = st.ino;
    this.open.set('.', { fd, dev: st.dev, ino: st.ino });
    this.paths.set(fd, root);
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

  /**
   * Close what is kept of directory `rel` and those below it: this run removed it (the journal at commit, a
   * directory a rollback unmade), so the next one of that name is a new directory, not a replaced one.
   */
  forget(rel: string): void {
    for (const [k, o] of this.open) {
      if (k !== rel && !k.startsWith(`${rel}/`)) continue;
      calls.close(o.fd);
      this.open.delete(k);
      this.paths.delete(o.fd);
    }
  }

  /** A message with the anchor's /proc/self/fd/N names put back as the paths a user knows. */
  readable(text: string): string {
    return text.replace(
      /\/proc\/self\/fd\/(\d+)/g,
      (whole, fd: string) => this.paths.get(Number(fd)) ?? whole,
    );
  }

  /** The real path of `rel`, for messages. */
  plain(rel: string): string {
    return rel === '.' ? this.root : path.join(this.root, rel);
  }

  /** Close every directory. The anchor can still be used: directories are opened again. */
  close(): void {
    for (const o of this.open.values()) calls.close(o.fd);
    this.open.clear();
    this.paths.clear();
  }

  /**
   * The plain path behind a name this anchor gave (`/proc/self/fd/N/rest` -> `DIR/rest`), for calls that only
   * read: an lstat through /proc costs a procfs lookup each time, and what a read sees through a swapped
   * symlink (another inode, or the very files of a directory moved out) only ever makes a step refuse, since
   * every call that acts goes through the verified name.
   */
  plainOf(p: string): string {
    if (!p.startsWith('/proc/self/fd/')) return p;
    const slash = p.indexOf('/', 14);
    const dir = this.paths.get(Number(slash < 0 ? p.slice(14) : p.slice(14, slash)));
    return dir === undefined ? p : slash < 0 ? dir : dir + p.slice(slash);
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
    if (rel !== '.' && NOT_PLAIN.test(rel))
      throw new AnchorError('outside', rel, `${rel} ${describe('outside')}`);
    return HAS_PROC_FD ? this.inPlaceOrOpened(rel) : this.fullCheck(rel);
  }

  /**
   * With /proc: an open directory is checked by its kernel name (one readlink, or none when this step found
   * it or a directory below it in place already); one not open yet is opened relative to its parent, itself
   * verified so, without following a symlink: in place by construction, with no lstat per component. A
   * directory that is not in place goes to the full check, which says what is wrong.
   */
  private inPlaceOrOpened(rel: string): Opened {
    const known = this.open.get(rel);
    if (known !== undefined) {
      if (this.isProven(rel) || this.inPlace(rel, known)) return this.used(rel, known);
      return this.fullCheck(rel);
    }
    if (rel === '.') return this.fullCheck(rel);
    const slash = rel.lastIndexOf('/');
    const parent = this.inPlaceOrOpened(slash < 0 ? '.' : rel.slice(0, slash));
    const o = this.opened(rel, parent, rel.slice(slash + 1));
    this.proven?.push(rel);
    return o;
  }

  /** Every component from the root: opened if not yet, and lstat'ed to be that very directory now. */
  private fullCheck(rel: string): Opened {
    let current = this.checked('.', undefined, '');
    if (rel === '.') return current;
    let prefix = '';
    for (const part of rel.split('/')) {
      prefix = prefix === '' ? part : `${prefix}/${part}`;
      current = this.checked(prefix, current, part);
    }
    return current;
  }

  /**
   * The fast check of an opened directory, one system call: the kernel's own name for it (readlink of
   * /proc/self/fd/N, the path the directory has now, without symlinks) is still its path in the tree. A
   * directory moved out, or reached only through a symlink now, has another name; then the full check runs,
   * component by component, to say what is wrong (or to find it in place after all, under a bind mount).
   */
  private inPlace(rel: string, o: Opened): boolean {
    if (!HAS_PROC_FD) return false;
    try {
      if (fs.readlinkSync(`/proc/self/fd/${o.fd}`) !== this.paths.get(o.fd)) return false;
    } catch {
      return false;
    }
    this.proven?.push(rel);
    return true;
  }

  /**
   * Found in place in this step: `rel` itself, or a directory below it (the kernel's name of a directory
   * runs through its ancestors as they are now).
   */
  private isProven(rel: string): boolean {
    const proven = this.proven;
    if (proven === null) return false;
    for (const p of proven)
      if (p === rel || rel === '.' || (p.startsWith(rel) && p[rel.length] === '/')) return true;
    return false;
  }

  /**
   * A step begins: what was found in place before is checked again. Within one step (the few system calls
   * of one operation, microseconds apart), a directory found in place, and every directory above it, is
   * not asked again: a move from `pkg/__pycache__` to `pkg` costs one check, not two. Outside steps (before
   * the first `beginStep()`, after `endSteps()`) every use checks.
   */
  beginStep(): void {
    if (this.proven === null) this.proven = [];
    else this.proven.length = 0;
  }

  endSteps(): void {
    this.proven = null;
  }

  /** One component: opened relative to its parent if not yet, then compared with what lstat says now. */
  private checked(prefix: string, parent: Opened | undefined, part: string): Opened {
    const real = this.plain(prefix);
    const known = this.open.get(prefix);
    const o = known === undefined ? this.opened(prefix, parent, part) : this.used(prefix, known);
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

  /** Open `prefix` relative to its parent (never through a symlink), on the tree's device, and keep it. */
  private opened(prefix: string, parent: Opened | undefined, part: string): Opened {
    const real = this.plain(prefix);
    const at = HAS_PROC_FD && parent !== undefined ? `/proc/self/fd/${parent.fd}/${part}` : real;
    const fd = openDir(at, real);
    const st = fs.fstatSync(fd, { bigint: true });
    const o: Opened = { fd, dev: st.dev, ino: st.ino };
    // Why: the root opened again after close() must still be the directory the anchor was made for.
    const wrong: AnchorProblem | null = prefix === '.' && o.ino !== this.ino ? 'moved' : null;
    if (wrong !== null || (o.dev !== this.dev && this.options.crossDevices !== true)) {
      calls.close(fd);
      const problem = wrong ?? 'other-device';
      throw new AnchorError(problem, real, `${real} ${describe(problem)}`);
    }
    this.remember(prefix, o);
    return o;
  }

  /**
   * Keep a directory open, closing the least recently used unpinned one past MAX_OPEN. Why least recently
   * used: a name handed out (`/proc/self/fd/N/x`) is only good while N is open; a step uses its names right
   * away, and the directories it just used are the last ones closed. Names held longer are of pinned ones.
   */
  private remember(prefix: string, o: Opened): void {
    if (this.open.size >= MAX_OPEN) {
      for (const [k, v] of this.open) {
        if (k === '.' || v.pinned === true) continue;
        calls.close(v.fd);
        this.open.delete(k);
        this.paths.delete(v.fd);
        break;
      }
    }
    this.open.set(prefix, o);
    this.paths.set(o.fd, prefix === '..' ? path.dirname(this.root) : this.plain(prefix));
  }

  /** Mark `rel` as just used: the Map's order is the order of last use. */
  private used(rel: string, o: Opened): Opened {
    this.open.delete(rel);
    this.open.set(rel, o);
    return o;
  }

  /** The verified name of directory `rel`, kept open until close(): for a name held across many steps. */
  pinned(rel: string): string {
    const name = this.dir(rel);
    this.open.get(rel)!.pinned = true;
    return name;
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
    return calls.openDir(at);
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
