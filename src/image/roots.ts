/**
 * Where Python is in a root file system (an image's, or an unpacked one on disk): the library directories
 * `lib/pythonX.Y` (and `lib64`) under `/`, `/usr`, `/usr/local` and `/opt/*` (a stdlib when `os.py` or
 * `os.pyc` is in it; its site-packages inside it), and Debian's `lib/python3/dist-packages`. Symlinked
 * directories are not followed (a merged-/usr `/lib` is found once, as `/usr/lib`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { isCompressedImage } from './sniff.js';

/** Lists a directory's names (undefined when the path is not a real directory). */
export type ListDir = (rel: string) => string[] | undefined;

export interface FoundRoot {
  /** Path inside the root file system, without a leading slash: 'usr/lib/python3.13'. */
  rel: string;
  label: 'stdlib' | 'purelib';
}

const PY_DIR = /^python\d+\.\d+t?$/;

export function findPythonRoots(list: ListDir): FoundRoot[] {
  const prefixes = ['', 'usr', 'usr/local'];
  for (const o of list('opt') ?? []) prefixes.push(`opt/${o}`);
  const found: FoundRoot[] = [];
  for (const prefix of prefixes) {
    for (const lib of ['lib', 'lib64']) {
      const dir = prefix === '' ? lib : `${prefix}/${lib}`;
      const names = list(dir);
      if (names === undefined) continue;
      for (const n of names.filter((x) => PY_DIR.test(x)).sort()) {
        const inner = list(`${dir}/${n}`);
        if (inner === undefined) continue;
        const stdlib = inner.includes('os.py') || inner.includes('os.pyc');
        found.push({ rel: `${dir}/${n}`, label: stdlib ? 'stdlib' : 'purelib' });
      }
      if (list(`${dir}/python3/dist-packages`) !== undefined)
        found.push({ rel: `${dir}/python3/dist-packages`, label: 'purelib' });
    }
  }
  return found;
}

/** A directory on disk listed without following symlinks below `top`. */
export function diskLister(top: string): ListDir {
  return (rel) => {
    const p = path.join(top, rel);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory() !== true) return undefined;
    try {
      return fs.readdirSync(p);
    } catch {
      return undefined;
    }
  };
}

/**
 * Whether a directory is a root file system rather than a Python tree: it is not Python itself (no
 * `os.py`, no `__init__.py`, no site-packages at its top) and Python is found inside it.
 */
export function rootfsPythonRoots(dir: string): FoundRoot[] | undefined {
  const list = diskLister(dir);
  const top = list('');
  if (top === undefined || (!top.includes('usr') && !top.includes('opt'))) return undefined;
  if (top.some((n) => n === 'os.py' || n === '__init__.py' || n === 'site-packages')) return undefined;
  const found = findPythonRoots(list);
  return found.length === 0 ? undefined : found;
}

/**
 * Whether a path is an image: an archive (a file named .tar, or holding a tar header, or a gzip or zstd stream
 * of an image archive), or a directory holding
 * index.json or manifest.json. Another file is left to the directory rules (not a directory).
 */
export function isImagePath(p: string): boolean {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (st === undefined) return false;
  if (st.isFile()) return /\.tar$/i.test(p) || hasTarMagic(p) || isCompressedImage(p);
  return (
    st.isDirectory() &&
    (fs.existsSync(path.join(p, 'index.json')) || fs.existsSync(path.join(p, 'manifest.json')))
  );
}

/** The ustar magic at byte 257 of the first header (GNU and POSIX tars both have it). */
function hasTarMagic(p: string): boolean {
  const head = Buffer.alloc(262);
  let fd = -1;
  try {
    fd = fs.openSync(p, 'r');
    return fs.readSync(fd, head, 0, 262, 0) === 262 && head.toString('latin1', 257, 262) === 'ustar';
  } catch {
    return false;
  } finally {
    if (fd !== -1) fs.closeSync(fd);
  }
}
