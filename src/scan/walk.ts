/**
 * The walk itself: read directories, lstat each entry, never follow a symlink. Used as is by the main
 * thread (small trees) and by the scan workers (large trees), on bounded batches of directories so that
 * work can be shared out: a batch walks at most `maxDirs` directories and hands back the ones it found but
 * did not walk.
 */
import fs from 'node:fs';
import { errnoCode } from '../errors.js';
import {
  displayName,
  type EntryName,
  EntryTable,
  TYPE_DIR,
  TYPE_FILE,
  TYPE_OTHER,
  TYPE_SYMLINK,
} from './table.js';

export interface ScanProblem {
  path: string;
  /** errno code such as EACCES, ENOENT (removed during the walk), ELOOP. */
  code: string;
  message: string;
}

/**
 * A directory to walk. `ref` says where it is: >= 0, its index in the main table; <= -2, entry -(ref + 2) of
 * the segment being built (a directory found by this batch).
 */
export interface DirJob {
  path: string | Buffer;
  ref: number;
  root: number;
}

export interface Segment {
  table: EntryTable;
  /** Directories found (or given) but not walked: to be walked by a later batch. */
  leftovers: DirJob[];
  problems: ScanProblem[];
  apparentBytes: number;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Fill slot i of a table from a Stats. The one place stat fields are read. */
export function recordStats(t: EntryTable, i: number, p: string | Buffer, st: fs.Stats): number {
  t.dev[i] = st.dev;
  let ino = st.ino;
  if (ino > MAX_SAFE) {
    // Why: a double cannot hold every 64-bit inode number; two distinct inodes could compare equal.
    const big = fs.lstatSync(p, { bigint: true });
    t.bigIno.set(i, big.ino);
    ino = Number(big.ino);
  }
  t.ino[i] = ino;
  t.size[i] = st.size;
  t.blocks[i] = st.blocks;
  t.nlink[i] = st.nlink;
  t.mode[i] = st.mode;
  t.uid[i] = st.uid;
  t.gid[i] = st.gid;
  t.mtimeMs[i] = st.mtimeMs;
  t.firstLink[i] = -1;
  const fmt = st.mode & S_IFMT;
  const type =
    fmt === S_IFREG ? TYPE_FILE : fmt === S_IFDIR ? TYPE_DIR : fmt === S_IFLNK ? TYPE_SYMLINK : TYPE_OTHER;
  t.type[i] = type;
  return type;
}

/**
 * Walk up to maxDirs directories from jobs (depth first). A directory whose (dev, ino) is in `skipDirs`
 * (another root, walked on its own) or already in `seenDirs` is neither recorded nor walked.
 */
export function walkBatch(
  jobs: DirJob[],
  maxDirs: number,
  skipDirs: Set<string>,
  seenDirs: Set<string>,
): Segment {
  const table = new EntryTable(1024);
  const problems: ScanProblem[] = [];
  const stack = jobs.slice().reverse();
  let apparent = 0;
  let walked = 0;
  while (stack.length > 0 && walked < maxDirs) {
    const dir = stack.pop()!;
    walked++;
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
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(p, { throwIfNoEntry: false });
      } catch (e) {
        problems.push(problem(p, e));
        continue;
      }
      if (st === undefined) continue; // Why: removed between readdir and lstat; it is not there to count.
      if ((st.mode & S_IFMT) === S_IFDIR) {
        const key = `${st.dev}:${st.ino}`;
        // Why: a root nested in this one is walked as its own root; a directory met twice (bind mount) once.
        if (skipDirs.has(key) || seenDirs.has(key)) continue;
        seenDirs.add(key);
      }
      const j = table.add();
      table.parent[j] = dir.ref;
      table.root[j] = dir.root;
      table.name[j] = name;
      apparent += st.size;
      if (recordStats(table, j, p, st) === TYPE_DIR) stack.push({ path: p, ref: -(j + 2), root: dir.root });
    }
  }
  return { table, leftovers: stack.reverse(), problems, apparentBytes: apparent };
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
    return Buffer.from(s).equals(b) ? s : b;
  });
}

export function problem(p: string | Buffer, e: unknown): ScanProblem {
  const code = errnoCode(e) ?? 'EIO';
  const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (e as Error).message;
  return { path: displayName(p), code, message: reason };
}
