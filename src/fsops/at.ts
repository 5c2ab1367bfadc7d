/**
 * The system calls that act, relative to an open directory (part of src/fsops). src/fsops names a file of
 * the tree as `/proc/self/fd/N/name` (src/fsops/anchor.ts): the name inside a directory it opened and
 * verified. Node has no openat()/renameat(); through procfs every such call first costs a lookup of
 * `/proc/self/fd/N` (measured: a rename 1.4x a plain one). pyfloppy's native helper (native/at.c, built at
 * install when a C compiler and Node's headers are there) takes N and the name instead: the same directory,
 * the same guarantee (never through a symlink swapped in above it), at less than a plain call's cost.
 *
 * Chosen once: the helper when it loads, else Node's own calls on the procfs names (same behaviour, slower).
 * `PYFLOPPY_NATIVE=0` forces the fallback (tests of it; benchmarks of both). Errors are made as Node's fs
 * makes them (code, errno, syscall, path, dest, "ENOENT: no such file or directory, rename 'a' -> 'b'"), so
 * every caller's errno handling is the same either way.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import util from 'node:util';

interface Native {
  openDir: (dirfd: number, name: string | Buffer) => number;
  rename: (fd1: number, a: string | Buffer, fd2: number, b: string | Buffer) => number;
  link: (fd1: number, a: string | Buffer, fd2: number, b: string | Buffer) => number;
  unlink: (dirfd: number, name: string | Buffer, dir: boolean) => number;
  mkdir: (dirfd: number, name: string | Buffer, mode: number) => number;
  openNew: (dirfd: number, name: string | Buffer, mode: number) => number;
  close: (fd: number) => number;
  strerror: (errno: number) => string;
}

/** The calls that act. Paths as src/fsops hands them out: `/proc/self/fd/N/rest`, or any other path. */
export interface AtCalls {
  /** How the calls are made: 'native' (the helper) or 'procfs' (Node's calls on the /proc names). */
  readonly via: 'native' | 'procfs';
  rename(from: string | Buffer, to: string | Buffer): void;
  link(existing: string | Buffer, created: string | Buffer): void;
  unlink(p: string | Buffer): void;
  rmdir(p: string | Buffer): void;
  mkdir(p: string | Buffer): void;
  /** A directory opened without following a symlink at its last component: O_RDONLY|O_DIRECTORY|O_NOFOLLOW. */
  openDir(p: string | Buffer): number;
  /** A new file (O_WRONLY|O_CREAT|O_EXCL, not through a symlink) with `mode` less the umask. */
  openNew(p: string | Buffer, mode: number): number;
  /** Close a descriptor openDir() or openNew() gave. */
  close(fd: number): void;
}

const AT_FDCWD = -100;
const PROC_FD = '/proc/self/fd/';
const PROC_FD_BYTES = Buffer.from(PROC_FD);

function loadNative(): Native | null {
  if (process.env['PYFLOPPY_NATIVE'] === '0' || process.platform !== 'linux') return null;
  try {
    // Why createRequire: an addon loads only through require(); build/ is beside dist/ in the package.
    return createRequire(import.meta.url)('../../../build/at.node') as Native;
  } catch {
    return null;
  }
}

/**
 * A path as (directory descriptor, name): `/proc/self/fd/N/rest` is N and rest (rest may hold slashes: it is
 * resolved from N as the kernel resolves the procfs name); anything else is relative to the working
 * directory, as a plain call takes it.
 */
function split(p: string | Buffer): [number, string | Buffer] {
  if (typeof p === 'string') {
    if (!p.startsWith(PROC_FD)) return [AT_FDCWD, p];
    const slash = p.indexOf('/', PROC_FD.length);
    const fd = Number(p.slice(PROC_FD.length, slash));
    return slash < 0 || !Number.isInteger(fd) ? [AT_FDCWD, p] : [fd, p.slice(slash + 1)];
  }
  if (!p.subarray(0, PROC_FD_BYTES.length).equals(PROC_FD_BYTES)) return [AT_FDCWD, p];
  const slash = p.indexOf(0x2f, PROC_FD_BYTES.length);
  const fd = Number(p.subarray(PROC_FD_BYTES.length, slash).toString('latin1'));
  return slash < 0 || !Number.isInteger(fd) ? [AT_FDCWD, p] : [fd, p.subarray(slash + 1)];
}

/** The error Node's fs would throw for this errno (negative) from this call. */
function systemError(
  n: Native,
  r: number,
  syscall: string,
  p: string | Buffer,
  dest?: string | Buffer,
): Error {
  const code = util.getSystemErrorName(r);
  const shown = String(p);
  const to = dest === undefined ? '' : ` -> '${String(dest)}'`;
  const e = new Error(`${code}: ${n.strerror(-r)}, ${syscall} '${shown}'${to}`);
  return Object.assign(e, {
    errno: r,
    code,
    syscall,
    path: shown,
    ...(dest === undefined ? {} : { dest: String(dest) }),
  });
}

function nativeCalls(n: Native): AtCalls {
  const ok = (r: number, syscall: string, p: string | Buffer, dest?: string | Buffer): number => {
    if (r < 0) throw systemError(n, r, syscall, p, dest);
    return r;
  };
  const two = (f: Native['rename'], syscall: string) => (a: string | Buffer, b: string | Buffer) => {
    const [fa, na] = split(a);
    const [fb, nb] = split(b);
    ok(f(fa, na, fb, nb), syscall, a, b);
  };
  const one =
    <T extends unknown[]>(f: (fd: number, name: string | Buffer, ...x: T) => number, syscall: string) =>
    (p: string | Buffer, ...x: T): number => {
      const [fd, name] = split(p);
      return ok(f(fd, name, ...x), syscall, p);
    };
  const unlink = one(n.unlink, 'unlink');
  const rmdir = one(n.unlink, 'rmdir');
  const mkdir = one(n.mkdir, 'mkdir');
  return {
    via: 'native',
    rename: two(n.rename, 'rename'),
    link: two(n.link, 'link'),
    unlink: (p) => void unlink(p, false),
    rmdir: (p) => void rmdir(p, true),
    mkdir: (p) => void mkdir(p, 0o777),
    openDir: one(n.openDir, 'open'),
    openNew: one(n.openNew, 'open'),
    close: (fd) => void ok(n.close(fd), 'close', String(fd)),
  };
}

const NEW_FLAGS =
  fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
const DIR_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

/** Node's own calls on the procfs names: the fallback. */
export const procfsCalls: AtCalls = {
  via: 'procfs',
  rename: (a, b) => fs.renameSync(a, b),
  link: (a, b) => fs.linkSync(a, b),
  unlink: (p) => fs.unlinkSync(p),
  rmdir: (p) => fs.rmdirSync(p),
  mkdir: (p) => fs.mkdirSync(p),
  openDir: (p) => fs.openSync(p, DIR_FLAGS),
  openNew: (p, mode) => fs.openSync(p, NEW_FLAGS, mode),
  close: (fd) => fs.closeSync(fd),
};

const native = loadNative();

/** The native helper's calls, or null when it is not built (or PYFLOPPY_NATIVE=0). */
export const nativeAtCalls: AtCalls | null = native === null ? null : nativeCalls(native);

/** The calls every writer in src/fsops uses, chosen once per process. */
export const at: AtCalls = nativeAtCalls ?? procfsCalls;
