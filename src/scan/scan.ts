/**
 * The scan stage: walk roots once, lstat every entry, never follow a symlink, and record what the footprint
 * needs in an EntryTable. Read-only. Unreadable directories are reported and skipped, never fatal.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode, PyfloppyError } from '../errors.js';
import {
  displayName,
  type EntryName,
  EntryTable,
  TYPE_DIR,
  TYPE_FILE,
  TYPE_OTHER,
  TYPE_SYMLINK,
} from './table.js';

export interface RootSpec {
  /** The path as the user or the interpreter gave it. */
  path: string;
  /** A label such as 'stdlib' or 'purelib'; defaults to the path. */
  label?: string;
}

export interface ScannedRoot {
  /** The path as given (the first one, when several specs name the same directory). */
  path: string;
  /** The directory itself, symlinks resolved: only the root is ever resolved, nothing below it. */
  realPath: string;
  /** Labels of every spec that named this directory, e.g. ['stdlib', 'platstdlib']. */
  labels: string[];
  /** Index of the root's own entry in the table; -1 when the directory was already inside another root. */
  entry: number;
  /** When this root lies inside another root, the index of that root: its files are counted once, here. */
  insideRoot: number;
}

export interface ScanProblem {
  path: string;
  /** errno code such as EACCES, ENOENT (removed during the walk), ELOOP. */
  code: string;
  message: string;
}

export interface ScanResult {
  table: EntryTable;
  roots: ScannedRoot[];
  problems: ScanProblem[];
}

export interface ScanOptions {
  /** Called every few thousand entries with the entries seen and their apparent bytes so far. */
  onProgress?: (entries: number, apparentBytes: number) => void;
}

/**
 * Resolve and check the roots: each must exist and be a directory. Specs naming the same directory are merged.
 * Throws PyfloppyError (exit 2) for a root that is missing, not a directory or unreadable.
 */
export function resolveRoots(specs: readonly RootSpec[]): ScannedRoot[] {
  const roots: ScannedRoot[] = [];
  for (const spec of specs) {
    const label = spec.label ?? spec.path;
    let real: string;
    try {
      real = fs.realpathSync(spec.path);
    } catch (e) {
      throw rootError(spec.path, e);
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(real);
    } catch (e) {
      throw rootError(spec.path, e);
    }
    if (!st.isDirectory()) {
      throw new PyfloppyError('ENOTDIR', `not a directory: ${spec.path}`, {
        hint: 'give the directory that holds the Python tree, e.g. /usr/lib64/python3.12',
      });
    }
    const same = roots.find((r) => r.realPath === real);
    if (same) {
      if (!same.labels.includes(label)) same.labels.push(label);
      continue;
    }
    roots.push({ path: spec.path, realPath: real, labels: [label], entry: -1, insideRoot: -1 });
  }
  for (const r of roots) {
    let best = -1;
    roots.forEach((o, k) => {
      if (
        o !== r &&
        isInside(r.realPath, o.realPath) &&
        (best === -1 || o.realPath.length > roots[best]!.realPath.length)
      ) {
        best = k;
      }
    });
    r.insideRoot = best;
  }
  return roots;
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function rootError(p: string, e: unknown): PyfloppyError {
  const code = errnoCode(e);
  if (code === 'ENOENT')
    return new PyfloppyError('ENOTFOUND', `no such file or directory: ${p}`, { cause: e });
  if (code === 'ENOTDIR') return new PyfloppyError('ENOTDIR', `not a directory: ${p}`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') {
    return new PyfloppyError('EACCES', `permission denied: ${p}`, {
      cause: e,
      hint: 'run as a user who can read it',
    });
  }
  return new PyfloppyError('ENOTFOUND', `cannot open ${p}: ${(e as Error).message}`, { cause: e });
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const PROGRESS_EVERY = 4096;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Walk the roots. Roots nested in other roots are walked first, so their files are attributed to the innermost
 * root (site-packages inside the stdlib directory counts as site-packages), and a directory reached twice
 * (the same inode) is walked once.
 */
export function scan(roots: ScannedRoot[], options: ScanOptions = {}): ScanResult {
  const table = new EntryTable(4096);
  const problems: ScanProblem[] = [];
  const seenDirs = new Set<string>();
  const firstPathOfInode = new Map<string, number>();
  const onProgress = options.onProgress;
  let apparent = 0;
  let nextProgress = PROGRESS_EVERY;

  // Fill slot i from a Stats; returns the entry's type. The one place stat fields are read.
  const record = (
    i: number,
    p: string | Buffer,
    st: fs.Stats,
    parent: number,
    root: number,
    name: EntryName,
  ): number => {
    table.parent[i] = parent;
    table.root[i] = root;
    table.name[i] = name;
    table.dev[i] = st.dev;
    let ino = st.ino;
    if (ino > MAX_SAFE) {
      // Why: a double cannot hold every 64-bit inode number; two distinct inodes could compare equal.
      const big = fs.lstatSync(p, { bigint: true });
      table.bigIno.set(i, big.ino);
      ino = Number(big.ino);
    }
    table.ino[i] = ino;
    table.size[i] = st.size;
    table.blocks[i] = st.blocks;
    table.nlink[i] = st.nlink;
    table.mode[i] = st.mode;
    table.mtimeMs[i] = st.mtimeMs;
    table.firstLink[i] = -1;
    apparent += st.size;
    const fmt = st.mode & S_IFMT;
    const type =
      fmt === S_IFREG ? TYPE_FILE : fmt === S_IFDIR ? TYPE_DIR : fmt === S_IFLNK ? TYPE_SYMLINK : TYPE_OTHER;
    table.type[i] = type;
    if (type !== TYPE_DIR && st.nlink > 1) {
      const key = table.inodeKey(i);
      const first = firstPathOfInode.get(key);
      if (first === undefined) firstPathOfInode.set(key, i);
      else table.firstLink[i] = first;
    }
    return type;
  };

  const order = roots.map((_, k) => k).sort((a, b) => roots[b]!.realPath.length - roots[a]!.realPath.length);
  const stack: Array<{ path: string | Buffer; entry: number }> = [];
  for (const rootIndex of order) {
    const root = roots[rootIndex]!;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(root.realPath);
    } catch (e) {
      problems.push(problem(root.realPath, e));
      continue;
    }
    const key = `${st.dev}:${st.ino}`;
    if (seenDirs.has(key)) continue;
    seenDirs.add(key);
    const i = table.add();
    record(i, root.realPath, st, -1, rootIndex, root.realPath);
    root.entry = i;
    stack.push({ path: root.realPath, entry: i });

    while (stack.length > 0) {
      const dir = stack.pop()!;
      const dirPath = dir.path;
      let names: EntryName[];
      try {
        names = readNames(dirPath);
      } catch (e) {
        problems.push(problem(dirPath, e));
        continue;
      }
      const bufferDir = typeof dirPath !== 'string';
      for (const name of names) {
        const p =
          !bufferDir && typeof name === 'string'
            ? `${dirPath}/${name}`
            : Buffer.concat([asBuffer(dirPath), Buffer.from('/'), asBuffer(name)]);
        let est: fs.Stats | undefined;
        try {
          est = fs.lstatSync(p, { throwIfNoEntry: false });
        } catch (e) {
          problems.push(problem(p, e));
          continue;
        }
        if (est === undefined) continue; // Why: removed between readdir and lstat; it is not there to count.
        if ((est.mode & S_IFMT) === S_IFDIR) {
          const dkey = `${est.dev}:${est.ino}`;
          if (seenDirs.has(dkey)) continue; // Why: a root nested in this one, already walked and counted.
          seenDirs.add(dkey);
          const j = table.add();
          record(j, p, est, dir.entry, rootIndex, name);
          stack.push({ path: p, entry: j });
        } else {
          const j = table.add();
          record(j, p, est, dir.entry, rootIndex, name);
        }
        if (onProgress !== undefined && table.count >= nextProgress) {
          nextProgress += PROGRESS_EVERY;
          onProgress(table.count, apparent);
        }
      }
    }
  }
  onProgress?.(table.count, apparent);
  return { table, roots, problems };
}

function asBuffer(p: string | Buffer): Buffer {
  return typeof p === 'string' ? Buffer.from(p) : p;
}

/**
 * Read a directory's names. Names are read as UTF-8 strings (fast); if one decodes with a replacement
 * character, the directory is read again as bytes so that a name that is not UTF-8 keeps its exact bytes
 * (a lossy string would name a file that does not exist).
 */
function readNames(dirPath: string | Buffer): EntryName[] {
  if (typeof dirPath === 'string') {
    const names = fs.readdirSync(dirPath);
    if (!names.some((n) => n.includes('\uFFFD'))) return names;
  }
  const raw = fs.readdirSync(dirPath, { encoding: 'buffer' });
  return raw.map((b) => {
    const s = b.toString('utf8');
    return Buffer.byteLength(s) === b.length && Buffer.from(s).equals(b) ? s : b;
  });
}

function problem(p: string | Buffer, e: unknown): ScanProblem {
  const code = errnoCode(e) ?? 'EIO';
  const shown = displayName(p);
  const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (e as Error).message;
  return { path: shown, code, message: reason };
}
