/**
 * What every strategy estimate works from: the model, the baseline subset, the file system's block size, and
 * measurements on the real bytes (compressed sizes, computed by compressing). Also the accounting helpers
 * the estimates share: bytes freed by removing names (an inode is freed only when its last name goes),
 * bytes taken by new files (whole blocks), directories left empty.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import type { Classification } from '../model/classify.js';
import type { Bytes, Footprint } from '../model/footprint.js';
import type { IdentityDetail } from '../model/identity.js';
import { K_DIRECTORY } from '../model/kinds.js';
import type { Model } from '../model/model.js';
import { firstFilename } from '../python/marshal.js';
import { parsePycHeader } from '../python/pyc.js';
import { relocatedSize, relocatePyc } from '../python/relocate.js';
import { deflatedSize } from '../scan/compare.js';
import type { LazyPool, WorkerReply } from '../scan/pool.js';
import { type EntryTable, pathOf, TYPE_DIR } from '../scan/table.js';

const DEFLATE_BATCH = 64;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Fixed sizes of the ZIP format (APPNOTE 4.3.7, 4.3.12, 4.3.16) as Python's zipfile writes them. */
export const ZIP_LOCAL_HEADER = 30;
export const ZIP_CENTRAL_HEADER = 46;
export const ZIP_END_RECORD = 22;
/** gzip member header (10) and trailer (8, CRC-32 and size), no file name stored. */
export const GZIP_OVERHEAD = 18;
/** The deflate level of every compressed layout: zlib's default, what zipfile and the gzip command use. */
export const DEFLATE_LEVEL = 6;

/**
 * Thrown where an estimate needs a file's contents that an image's stream did not keep (compressed sizes,
 * the names inside bytecode): the strategy is left out of an image's report rather than guessed.
 */
export class NeedsContents extends Error {
  override name = 'NeedsContents';
}

export interface Subset {
  /** Top-level modules left out of the baseline (e.g. tkinter, idlelib, turtle); 'config-*' matches a prefix. */
  excludeModules: string[];
  /** Leave out test code (test, tests, idle_test packages). */
  excludeTests: boolean;
  /** Leave out site-packages and dist-packages (what is not the stdlib). */
  excludeSitePackages?: boolean;
}

export class EstimateContext {
  readonly t: EntryTable;
  readonly c: Classification;
  readonly fp: Footprint;
  readonly identity: IdentityDetail;
  /** 1 where the entry belongs to the baseline (the whole tree unless a subset is given). */
  readonly base: Uint8Array;
  readonly total: Bytes;
  readonly blockSize: number;
  /** The root's real path (the estimates' place for relocated bytecode). */
  readonly rootPath: string;
  /** Where the root is installed when it was found in a root file system or an image (/usr/lib/python3.X). */
  readonly installedPath: string;
  private readonly filenames = new Map<number, string | undefined>();
  /** 1 where the entry lies in a site-packages or dist-packages directory (not the stdlib). */
  readonly inSitePackages: Uint8Array;
  /** For each entry, the index of the first path to its inode (itself when it has one name here). */
  private readonly inodeFirst: Int32Array;
  /** Names inside the tree per inode, keyed by first path (only for inodes with several). */
  private readonly namesHere = new Map<number, number>();
  private readonly deflated = new Map<string, number>();
  private readonly utf8 = new Map<number, boolean>();

  constructor(model: Model, subset?: Subset) {
    this.t = model.scan.table;
    this.c = model.classification;
    this.fp = model.footprint;
    this.identity = model.identity;
    const n = this.t.count;
    this.base = new Uint8Array(n).fill(1);
    this.inSitePackages = sitePackagesMask(this.t);
    if (subset !== undefined) {
      const exact = new Set(subset.excludeModules.filter((m) => !m.endsWith('*')));
      const prefixes = subset.excludeModules.filter((m) => m.endsWith('*')).map((m) => m.slice(0, -1));
      const excludedTop = this.c.topNames.map(
        (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p)),
      );
      for (let i = 0; i < n; i++) {
        const top = this.c.top[i]!;
        if (
          (top !== -1 && excludedTop[top]) ||
          (subset.excludeTests && this.c.test[i] === 1) ||
          (subset.excludeSitePackages === true && this.inSitePackages[i] === 1)
        ) {
          this.base[i] = 0;
        }
      }
    }
    this.inodeFirst = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const f = this.t.firstLink[i]!;
      this.inodeFirst[i] = f === -1 ? i : f;
      if (f !== -1) this.namesHere.set(f, (this.namesHere.get(f) ?? 1) + 1);
    }
    const total = { apparentBytes: 0, allocatedBytes: 0 };
    for (let i = 0; i < n; i++) {
      if (this.fp.counted[i] === 1 && this.base[i] === 1) {
        total.apparentBytes += this.t.size[i]!;
        total.allocatedBytes += this.t.blocks[i]! * 512;
      }
    }
    this.total = total;
    let bsize = 4096;
    const root = model.scan.roots.find((r) => r.entry !== -1);
    this.rootPath = root?.realPath ?? '/';
    this.installedPath = root?.installedAt ?? this.rootPath;
    try {
      if (root !== undefined) bsize = Number(fs.statfsSync(root.realPath).bsize) || 4096;
    } catch {
      // Why: statfs is missing on some platforms; 4096 is the block size of ext4, XFS, btrfs and APFS.
    }
    this.blockSize = bsize;
  }

  /** Allocated bytes of a new file of `size` bytes: whole blocks (0 for an empty file). */
  allocation(size: number): number {
    return Math.ceil(size / this.blockSize) * this.blockSize;
  }

  /** Bytes of a new file, apparent and allocated. */
  newFile(size: number): Bytes {
    return { apparentBytes: size, allocatedBytes: this.allocation(size) };
  }

  /**
   * Bytes freed by removing every baseline name for which `remove` is true: an inode counts when all of its
   * names inside the tree are removed and it has no other name outside (link count equals names here).
   */
  freed(remove: (i: number) => boolean): Bytes {
    const t = this.t;
    const out = { apparentBytes: 0, allocatedBytes: 0 };
    const kept = new Set<number>();
    const removedNames = new Map<number, number>();
    for (let i = 0; i < t.count; i++) {
      if (this.base[i] === 0) continue;
      const first = this.inodeFirst[i]!;
      const names = this.namesHere.get(first);
      if (!remove(i)) {
        if (names !== undefined) kept.add(first);
        continue;
      }
      if (names === undefined) {
        if (t.nlink[i]! <= 1 || t.type[i] === TYPE_DIR) {
          out.apparentBytes += t.size[i]!;
          out.allocatedBytes += t.blocks[i]! * 512;
        }
      } else removedNames.set(first, (removedNames.get(first) ?? 0) + 1);
    }
    for (const [first, removed] of removedNames) {
      const names = this.namesHere.get(first)!;
      if (removed === names && !kept.has(first) && t.nlink[first]! <= names) {
        out.apparentBytes += t.size[first]!;
        out.allocatedBytes += t.blocks[first]! * 512;
      }
    }
    return out;
  }

  /**
   * Directories that would be left with nothing in them once `removeFile` entries are gone (and that are not
   * themselves roots or sys.path directories): they go too. `receives`: directories that get new files.
   */
  emptiedDirectories(removeFile: (i: number) => boolean, receives?: ReadonlySet<number>): Uint8Array {
    const t = this.t;
    const n = t.count;
    const keeps = new Uint8Array(n); // 1: the directory keeps something
    if (receives !== undefined) for (const d of receives) keeps[d] = 1;
    for (let i = n - 1; i >= 0; i--) {
      const p = t.parent[i]!;
      if (p === -1) continue;
      const stays = this.c.kind[i] === K_DIRECTORY ? keeps[i] === 1 || this.c.top[i] === -1 : !removeFile(i);
      if (stays) keeps[p] = 1;
    }
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (this.c.kind[i] === K_DIRECTORY && t.parent[i] !== -1 && this.c.top[i] !== -1 && keeps[i] === 0)
        out[i] = 1;
    }
    return out;
  }

  /**
   * Measure, by compressing them, the deflated sizes of many entries at once: in the worker pool when there
   * are many (compression is the costly part of the estimates), else in this thread.
   */
  async measureDeflate(entries: number[], level: number, lazyPool?: LazyPool): Promise<void> {
    this.onDisk();
    const todo = entries.filter((i) => !this.deflated.has(`${i}:${level}`));
    const pool = todo.length >= 256 ? lazyPool?.get() : undefined;
    const put = (i: number, size: number): void => {
      this.deflated.set(`${i}:${level}`, size < 0 ? this.t.size[i]! : size);
    };
    if (pool === undefined) {
      for (const i of todo) put(i, deflatedSize(pathOf(this.t, i), level));
      return;
    }
    const sizes = await pool.mapBatches(
      todo,
      DEFLATE_BATCH,
      (id, part) => ({ op: 'deflate', id, paths: part.map((i) => pathOf(this.t, i)), level }),
      (r: Extract<WorkerReply, { op: 'deflate' }>) => r.sizes,
    );
    sizes.forEach((size, k) => put(todo[k]!, size));
  }

  /**
   * Size of entry i's content compressed with raw deflate at `level`. Measured (by measureDeflate, or here on
   * first use); a file that cannot be read counts as incompressible.
   */
  /** Whether the file decodes as UTF-8 (read on first use; unreadable counts as not). */
  isUtf8(i: number): boolean {
    this.onDisk();
    let v = this.utf8.get(i);
    if (v === undefined) {
      try {
        const fd = fs.openSync(pathOf(this.t, i), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
        try {
          UTF8.decode(fs.readFileSync(fd));
          v = true;
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        v = false;
      }
      this.utf8.set(i, v);
    }
    return v;
  }

  deflatedSize(i: number, level: number): number {
    this.onDisk();
    const key = `${i}:${level}`;
    let v = this.deflated.get(key);
    if (v === undefined) {
      v = deflatedSize(pathOf(this.t, i), level);
      if (v < 0) v = this.t.size[i]!;
      this.deflated.set(key, v);
    }
    return v;
  }

  /** Size relocated caches of an archive as they are (their contents were not kept): fit on a bundle. */
  relocationUnread = false;

  /**
   * The size of a cache relocated to name `filename`: its own, plus the difference in the names' encoded
   * lengths (the old name read from the first code object, without walking the rest). The cache's own
   * size when it cannot be read.
   */
  relocatedSize(i: number, filename: string): number {
    const size = this.t.size[i]!;
    // Why: an archive's caches were streamed, not kept: the name its code carries was read then, if at all;
    // where it was not and the caller accepts it (fit on a bundle), its size as it is stands in.
    const contents = this.t.contents;
    const streamed = contents?.filename?.(i);
    if (streamed !== undefined) return relocatedSize(size, streamed, filename);
    if (contents !== undefined && this.relocationUnread) return size;
    const old = this.filenameOf(i);
    return old === undefined ? size : relocatedSize(size, old, filename);
  }

  /** The file name a cache's code carries, read once (sourceless and pysources both ask). */
  private filenameOf(i: number): string | undefined {
    this.onDisk();
    if (this.filenames.has(i)) return this.filenames.get(i);
    let old: string | undefined;
    try {
      const data = this.read(i);
      const header = parsePycHeader(data);
      old = firstFilename(data, Number(header.magic.version.split('.')[1]), header.headerSize);
    } catch {
      old = undefined;
    }
    this.filenames.set(i, old);
    return old;
  }

  /** The deflated size of a cache relocated to name `filename` (the cache's own when it cannot be). */
  relocatedDeflatedSize(i: number, filename: string): number {
    this.onDisk();
    try {
      const data = relocatePyc(this.read(i), filename);
      return zlib.deflateRawSync(data, { level: DEFLATE_LEVEL }).length;
    } catch {
      return this.deflatedSize(i, DEFLATE_LEVEL);
    }
  }

  /** Contents are read from the disk: not for an image's entries (its paths may name the host's files). */
  private onDisk(): void {
    if (this.t.contents !== undefined) throw new NeedsContents('needs the contents of the files');
  }

  /** An entry's bytes, opened without following a symlink. */
  private read(i: number): Buffer {
    const fd = fs.openSync(pathOf(this.t, i), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      return fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Size of a ZIP archive of these entries, each stored under its name and deflated at level 6 (zipfile's). */
  zipSize(members: ReadonlyArray<{ entry: number; name: string; filename?: string }>): number {
    let size = ZIP_END_RECORD;
    for (const m of members) {
      // zipfile deflates every member, even when that makes it larger.
      size +=
        ZIP_LOCAL_HEADER +
        ZIP_CENTRAL_HEADER +
        2 * Buffer.byteLength(m.name) +
        (m.filename === undefined
          ? this.deflatedSize(m.entry, DEFLATE_LEVEL)
          : this.relocatedDeflatedSize(m.entry, m.filename));
    }
    return size;
  }
}

/** 1 where the entry lies in (or is) a site-packages or dist-packages directory. */
function sitePackagesMask(t: EntryTable): Uint8Array {
  const out = new Uint8Array(t.count);
  for (let i = 0; i < t.count; i++) {
    const p = t.parent[i]!;
    const n = t.name[i];
    if (p === -1) out[i] = typeof n === 'string' && /\/(site|dist)-packages$/.test(n) ? 1 : 0;
    else out[i] = out[p] === 1 || n === 'site-packages' || n === 'dist-packages' ? 1 : 0;
  }
  return out;
}

export function add(a: Bytes, b: Bytes): Bytes {
  return {
    apparentBytes: a.apparentBytes + b.apparentBytes,
    allocatedBytes: a.allocatedBytes + b.allocatedBytes,
  };
}

export function sub(a: Bytes, b: Bytes): Bytes {
  return {
    apparentBytes: a.apparentBytes - b.apparentBytes,
    allocatedBytes: a.allocatedBytes - b.allocatedBytes,
  };
}

export const ZERO: Bytes = { apparentBytes: 0, allocatedBytes: 0 };
