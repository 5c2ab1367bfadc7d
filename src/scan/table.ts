/**
 * The entry table: every directory entry a scan met, in compact parallel typed arrays (one slot per entry)
 * rather than one object per file, so that a tree of a million files costs about 100 bytes an entry.
 *
 * Entries are appended in walk order and a directory always precedes its children, so a pass in index order
 * sees every parent before its children (the classifier relies on this).
 */

import type { Inspection } from '../check/inspect.js';

export const TYPE_FILE = 0;
export const TYPE_DIR = 1;
export const TYPE_SYMLINK = 2;
/** Sockets, fifos, devices: counted like du counts them, never classified as Python. */
export const TYPE_OTHER = 3;

/** A name as read from the directory: a string when it is valid UTF-8, else the raw bytes. */
export type EntryName = string | Buffer;

/**
 * The numeric columns, one typed array each. Everything that creates, grows, copies or sends a table loops
 * over this list, so a new column is one line here and one field below.
 */
const COLUMNS = {
  /** Index of the parent directory entry; -1 for a root. */
  parent: Int32Array,
  /** Index of the root (in the scan's root list) the entry was reached from. */
  root: Uint16Array,
  type: Uint8Array,
  dev: Float64Array,
  ino: Float64Array,
  size: Float64Array,
  /** st_blocks: 512-byte units allocated. */
  blocks: Float64Array,
  nlink: Uint32Array,
  mode: Uint32Array,
  uid: Uint32Array,
  gid: Uint32Array,
  mtimeMs: Float64Array,
  /**
   * For the second and later paths to an inode met before (a hardlink), the index of the first path;
   * -1 otherwise. The footprint counts each inode once.
   */
  firstLink: Int32Array,
} as const;

type ColumnName = keyof typeof COLUMNS;
type Columns = Pick<EntryTable, ColumnName>;
type AnyColumn = Columns[ColumnName];
const COLUMN_NAMES = Object.keys(COLUMNS) as ColumnName[];

/** The filled part of an EntryTable as plain transferable data. */
export type TableTransfer = Omit<Columns, 'firstLink'> & {
  count: number;
  name: Array<string | Uint8Array>;
  bigIno: Array<[number, bigint]>;
};

function sized<C extends AnyColumn>(like: C, n: number): C {
  return new (like.constructor as new (n: number) => C)(n);
}

/**
 * The contents of entries that are not files on disk (a container image read as a stream): what was kept
 * while reading, so that the stages reading files (byte identity, distribution lists) ask here instead.
 */
export interface MemberContents {
  /** A digest of entry i's bytes (equal digests: equal bytes), where one was taken. */
  digest(i: number): Buffer | undefined;
  /** Entry i's whole bytes, where they were kept (small texts: RECORD, installed-files.txt). */
  text(i: number): Buffer | undefined;
  /** The entry named `name` in directory entry `dir`, or -1. */
  child(dir: number, name: string): number;
  /**
   * Check's inspection of cache entry `cache` (from what was read while streaming) with its source entry
   * (-1: absent, -2: none to look for), when the image was read with inspection.
   */
  inspect?(cache: number, source: number): Inspection;
  /** The layer (1-based) that added entry i's contents. */
  layer?(i: number): number;
  /** The file name a level-0 cache's code names, where it was read while streaming. */
  filename?(i: number): string | undefined;
}

export class EntryTable {
  count = 0;
  /** Set for a table read from an image: contents come from here, not from the file system. */
  contents: MemberContents | undefined;
  parent!: Int32Array;
  root!: Uint16Array;
  type!: Uint8Array;
  dev!: Float64Array;
  ino!: Float64Array;
  size!: Float64Array;
  blocks!: Float64Array;
  nlink!: Uint32Array;
  mode!: Uint32Array;
  uid!: Uint32Array;
  gid!: Uint32Array;
  mtimeMs!: Float64Array;
  firstLink!: Int32Array;
  /** Names; for a root, its absolute path. */
  name: EntryName[] = [];
  /**
   * Inode numbers that do not fit a double exactly (above 2^53, seen on some XFS and network file systems),
   * kept exactly here; ino[] then holds a rounded value that is only used for display.
   */
  bigIno = new Map<number, bigint>();

  constructor(capacity = 1024) {
    const self = this as unknown as Record<ColumnName, AnyColumn>;
    for (const c of COLUMN_NAMES) self[c] = new COLUMNS[c](capacity);
  }

  /** Reserve a slot and return its index; the caller fills the arrays. */
  add(): number {
    const i = this.count;
    if (i === this.parent.length) this.reserve(i * 2);
    this.count = i + 1;
    return i;
  }

  /** Make room for at least `want` slots. */
  reserve(want: number): void {
    if (want <= this.parent.length) return;
    const n = Math.max(want, this.parent.length * 2);
    const self = this as unknown as Record<ColumnName, AnyColumn>;
    for (const c of COLUMN_NAMES) {
      const grown = sized(self[c], n);
      grown.set(self[c]);
      self[c] = grown;
    }
  }

  /** The filled part of every array, copied, for sending to another thread (buffers are transferable). */
  toTransfer(): TableTransfer {
    const n = this.count;
    const out: Record<string, unknown> = { count: n, name: this.name.slice(0, n), bigIno: [...this.bigIno] };
    for (const c of COLUMN_NAMES) if (c !== 'firstLink') out[c] = this[c].slice(0, n);
    return out as TableTransfer;
  }

  /** The typed arrays of a transfer, for the transfer list of postMessage. */
  static buffers(t: TableTransfer): ArrayBuffer[] {
    return COLUMN_NAMES.filter((c) => c !== 'firstLink').map((c) => t[c].buffer as ArrayBuffer);
  }

  /**
   * Append a segment walked elsewhere. Its parent links are either indexes into this table (>= 0: a directory
   * that was handed out to be walked) or -(k + 2) for the segment's own entry k; they are rebased here.
   * Returns the index of the segment's first entry.
   */
  append(seg: TableTransfer): number {
    const base = this.count;
    const n = seg.count;
    this.reserve(base + n);
    for (const c of COLUMN_NAMES) {
      if (c === 'parent' || c === 'firstLink') continue;
      (this[c] as AnyColumn).set(seg[c], base);
    }
    for (let k = 0; k < n; k++) {
      const p = seg.parent[k]!;
      this.parent[base + k] = p >= 0 ? p : base + (-p - 2);
    }
    this.firstLink.fill(-1, base, base + n);
    for (let k = 0; k < n; k++) {
      const nm = seg.name[k]!;
      // A Buffer sent between threads arrives as a plain Uint8Array.
      this.name.push(
        typeof nm === 'string' || Buffer.isBuffer(nm)
          ? nm
          : Buffer.from(nm.buffer, nm.byteOffset, nm.byteLength),
      );
    }
    for (const [k, v] of seg.bigIno) this.bigIno.set(base + k, v);
    this.count = base + n;
    return base;
  }

  /** A new table with only the entries where keep[i] is 1, parent links renumbered (parents must be kept). */
  filter(keep: Uint8Array): EntryTable {
    const map = new Int32Array(this.count).fill(-1);
    let n = 0;
    for (let i = 0; i < this.count; i++) if (keep[i] === 1) map[i] = n++;
    const out = new EntryTable(Math.max(n, 1));
    out.count = n;
    for (const c of COLUMN_NAMES) {
      const from = this[c];
      const to = out[c];
      for (let i = 0; i < this.count; i++) if (map[i] !== -1) to[map[i]!] = from[i]!;
    }
    for (let i = 0; i < this.count; i++) {
      const j = map[i]!;
      if (j === -1) continue;
      const p = this.parent[i]!;
      out.parent[j] = p === -1 ? -1 : map[p]!;
      out.firstLink[j] = -1;
      out.name[j] = this.name[i]!;
      const big = this.bigIno.get(i);
      if (big !== undefined) out.bigIno.set(j, big);
    }
    return out;
  }

  /** A key that identifies the inode of entry i: device and inode number. */
  inodeKey(i: number): string {
    const big = this.bigIno.get(i);
    return `${this.dev[i]}:${big === undefined ? this.ino[i] : big}`;
  }

  /** The names from the root down to entry i (the root's own name is its absolute path). */
  components(i: number): EntryName[] {
    const parts: EntryName[] = [];
    for (let j = i; j !== -1; j = this.parent[j]!) parts.push(this.name[j]!);
    return parts.reverse();
  }

  /** The path to use with the file system: a string, or a Buffer when a component is not valid UTF-8. */
  fsPath(i: number): string | Buffer {
    const parts = this.components(i);
    if (parts.every((p) => typeof p === 'string')) return parts.join('/');
    return Buffer.concat(
      parts.flatMap((p, k) => (k === 0 ? [toBuffer(p)] : [Buffer.from('/'), toBuffer(p)])),
    );
  }

  /** The path for people: not-UTF-8 bytes shown as \xNN escapes. */
  displayPath(i: number): string {
    return this.components(i).map(displayName).join('/');
  }

  /** The path relative to the entry's root, for people, '' for the root itself. */
  relativePath(i: number): string {
    return this.components(i).slice(1).map(displayName).join('/');
  }
}

function toBuffer(p: EntryName): Buffer {
  return typeof p === 'string' ? Buffer.from(p) : p;
}

const pathCache = new WeakMap<EntryTable, Map<number, string | Buffer>>();

/**
 * t.fsPath(i), remembered per table: the commands that act on files (dedup) name each file several times
 * (compare, re-check, link, report), and building a path walks the parent links.
 */
export function pathOf(t: EntryTable, i: number): string | Buffer {
  let m = pathCache.get(t);
  if (m === undefined) {
    m = new Map();
    pathCache.set(t, m);
  }
  let p = m.get(i);
  if (p === undefined) {
    p = t.fsPath(i);
    m.set(i, p);
  }
  return p;
}

/** A name for people: valid UTF-8 as is, other bytes as \xNN. */
export function displayName(n: EntryName): string {
  if (typeof n === 'string') return n;
  let out = '';
  let i = 0;
  while (i < n.length) {
    // Decode maximal valid UTF-8 runs; escape each byte that does not start a valid sequence.
    const len = utf8SequenceLength(n, i);
    if (len > 0) {
      out += n.toString('utf8', i, i + len);
      i += len;
    } else {
      out += `\\x${n[i]!.toString(16).padStart(2, '0')}`;
      i += 1;
    }
  }
  return out;
}

function utf8SequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  let len: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    min = 0x10000;
  } else return 0;
  if (i + len > b.length) return 0;
  let cp = c & (0xff >> (len + 1));
  for (let k = 1; k < len; k++) {
    const cc = b[i + k]!;
    if ((cc & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}
