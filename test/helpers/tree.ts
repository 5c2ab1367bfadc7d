/** Fixture trees built by code in temporary directories (no committed binary blobs). */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temporary directory (mode 0755 so that a test can run a command as another user in it). */
export function tempDir(prefix = 'pyfloppy-test-', base = os.tmpdir()): string {
  const d = fs.mkdtempSync(path.join(base, prefix));
  fs.chmodSync(d, 0o755);
  return d;
}

/**
 * A temporary directory on a memory file system (/dev/shm) where there is one: for tests that create and copy
 * thousands of files many times, which a disk-backed journal makes slow. Falls back to tempDir().
 */
export function fastTempDir(prefix = 'pyfloppy-test-'): string {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return tempDir(prefix, '/dev/shm');
  } catch {
    return tempDir(prefix);
  }
}

export function removeTree(d: string): void {
  // Restore permissions first: a test may have made a directory unreadable.
  spawnSync('chmod', ['-R', 'u+rwX', d]);
  fs.rmSync(d, { recursive: true, force: true });
}

/** Write files: keys are relative paths, values contents. Directories are created as needed. */
export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}

/** du's own figures for a tree: apparent bytes (du --apparent-size -sb) and allocated bytes (du -sB1). */
export function duBytes(...roots: string[]): { apparent: number; allocated: number } {
  const run = (args: string[]): number => {
    const r = spawnSync('du', [...args, ...roots], { encoding: 'utf8' });
    // With -c, du's last line is the total over all roots, each inode counted once.
    const lines = r.stdout.trim().split('\n');
    return Number(lines[lines.length - 1]!.split('\t')[0]);
  };
  return { apparent: run(['--apparent-size', '-sbc']), allocated: run(['-sB1', '-c']) };
}

/** Every entry below dir, dir itself included: path, type, inode, size, mtime, ctime (ns), mode, links. */
export function metadata(dir: string): string[] {
  const out: string[] = [];
  const one = (p: string): void => {
    const s = fs.lstatSync(p, { bigint: true });
    out.push(
      `${path.relative(dir, p) || '.'} ino=${s.ino} size=${s.size} mtime=${s.mtimeNs} ctime=${s.ctimeNs} mode=${s.mode.toString(8)} nlink=${s.nlink}`,
    );
    if (s.isDirectory()) for (const n of fs.readdirSync(p).sort()) one(path.join(p, n));
  };
  one(dir);
  return out;
}

export interface FileState {
  ino: number;
  nlink: number;
  mode: number;
  sha256: string;
}

/** Every regular file and symlink below root: relative path -> inode, link count, mode, content hash. */
export function snapshot(root: string): Map<string, FileState> {
  const out = new Map<string, FileState>();
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p);
      else {
        const content = st.isSymbolicLink() ? Buffer.from(fs.readlinkSync(p)) : fs.readFileSync(p);
        out.set(path.relative(root, p), {
          ino: st.ino,
          nlink: st.nlink,
          mode: st.mode,
          sha256: crypto.createHash('sha256').update(content).digest('hex'),
        });
      }
    }
  };
  walk(root);
  return out;
}

/** Groups of relative paths that share an inode (only groups of two or more), sorted: the shape links give a tree. */
export function linkGroups(root: string, filter: (rel: string) => boolean = () => true): string[][] {
  const byIno = new Map<number, string[]>();
  for (const [rel, s] of snapshot(root)) {
    if (!filter(rel)) continue;
    const g = byIno.get(s.ino);
    if (g === undefined) byIno.set(s.ino, [rel]);
    else g.push(rel);
  }
  return [...byIno.values()]
    .filter((g) => g.length > 1)
    .map((g) => g.sort())
    .sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/**
 * Copy a directory preserving metadata (cp -a), leaving out top-level entries named in `exclude`. With
 * `links`, the copy's files are new names of the same inodes (cp -al): only for trees whose files are then
 * replaced by rename, never written in place.
 */
export function copyTree(
  from: string,
  to: string,
  options: { exclude?: string[]; links?: boolean } = {},
): void {
  fs.mkdirSync(to);
  const names = fs.readdirSync(from).filter((n) => !(options.exclude ?? []).includes(n));
  if (names.length === 0) return;
  const r = spawnSync('cp', [options.links ? '-al' : '-a', ...names.map((n) => path.join(from, n)), to], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`cp failed: ${r.stderr}`);
}

/** Every directory below root (root itself left out), relative, sorted. */
export function directories(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = path.join(d, e.name);
      out.push(path.relative(root, p));
      walk(p);
    }
  };
  walk(root);
  return out.sort();
}

/** The directories below root that hold nothing, relative, sorted. */
export function emptyDirectories(root: string): string[] {
  return directories(root).filter((d) => fs.readdirSync(path.join(root, d)).length === 0);
}

/** Every directory on the way to the given relative paths (root left out), sorted: a tree with no empty one. */
export function ancestors(paths: string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) for (let d = path.dirname(p); d !== '.'; d = path.dirname(d)) out.add(d);
  return [...out].sort();
}

/**
 * The bytes by which du's figure for freed space exceeds a plan's after it is applied: the plan charges each
 * directory it makes one block of the file system (statfs's bsize), du counts what the directory really
 * takes (st_blocks; 0 on tmpfs). Exact, so that a test can compare du with the plan to the byte.
 */
export function mkdirSlack(root: string, operations: ReadonlyArray<{ op: string; path?: string }>): number {
  const bsize = fs.statfsSync(root).bsize;
  let slack = 0;
  for (const o of operations)
    if (o.op === 'mkdir') slack += bsize - fs.lstatSync(path.join(root, o.path!)).blocks * 512;
  return slack;
}
