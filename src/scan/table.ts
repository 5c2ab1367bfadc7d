/**
 * The entry table: every directory entry a scan met, in compact parallel typed arrays (one slot per entry)
 * rather than one object per file, so that a tree of a million files costs about 100 bytes an entry.
 *
 * Entries are appended in walk order and a directory always precedes its children, so a pass in index order
 * sees every parent before its children (the classifier relies on this).
 */

export const TYPE_FILE = 0;
export const TYPE_DIR = 1;
export const TYPE_SYMLINK = 2;
/** Sockets, fifos, devices: counted like du counts them, never classified as Python. */
export const TYPE_OTHER = 3;

/** A name as read from the directory: a string when it is valid UTF-8, else the raw bytes. */
export type EntryName = string | Buffer;

function grow<T extends Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array>(
  a: T,
  n: number,
): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

export class EntryTable {
  count = 0;
  /** Index of the parent directory entry; -1 for a root. */
  parent: Int32Array;
  /** Index of the root (in the scan's root list) the entry was reached from. */
  root: Uint16Array;
  type: Uint8Array;
  dev: Float64Array;
  ino: Float64Array;
  size: Float64Array;
  /** st_blocks: 512-byte units allocated. */
  blocks: Float64Array;
  nlink: Uint32Array;
  mode: Uint32Array;
  uid: Uint32Array;
  gid: Uint32Array;
  mtimeMs: Float64Array;
  /**
   * For the second and later paths to an inode met before (a hardlink), the index of the first path;
   * -1 otherwise. The footprint counts each inode once.
   */
  firstLink: Int32Array;
  /** Names; for a root, its absolute path. */
  name: EntryName[] = [];
  /**
   * Inode numbers that do not fit a double exactly (above 2^53, seen on some XFS and network file systems),
   * kept exactly here; ino[] then holds a rounded value that is only used for display.
   */
  bigIno = new Map<number, bigint>();

  constructor(capacity = 1024) {
    this.parent = new Int32Array(capacity);
    this.root = new Uint16Array(capacity);
    this.type = new Uint8Array(capacity);
    this.dev = new Float64Array(capacity);
    this.ino = new Float64Array(capacity);
    this.size = new Float64Array(capacity);
    this.blocks = new Float64Array(capacity);
    this.nlink = new Uint32Array(capacity);
    this.mode = new Uint32Array(capacity);
    this.uid = new Uint32Array(capacity);
    this.gid = new Uint32Array(capacity);
    this.mtimeMs = new Float64Array(capacity);
    this.firstLink = new Int32Array(capacity);
  }

  /** Reserve a slot and return its index; the caller fills the arrays. */
  add(): number {
    const i = this.count;
    if (i === this.parent.length) this.reserve(i * 2);
    this.count = i + 1;
    return i;
  }

  /** Make room for at least n slots. */
  reserve(want: number): void {
    if (want > this.parent.length) {
      const n = Math.max(want, this.parent.length * 2);
      this.parent = grow(this.parent, n);
      this.root = grow(this.root, n);
      this.type = grow(this.type, n);
      this.dev = grow(this.dev, n);
      this.ino = grow(this.ino, n);
      this.size = grow(this.size, n);
      this.blocks = grow(this.blocks, n);
      this.nlink = grow(this.nlink, n);
      this.mode = grow(this.mode, n);
      this.uid = grow(this.uid, n);
      this.gid = grow(this.gid, n);
      this.mtimeMs = grow(this.mtimeMs, n);
      this.firstLink = grow(this.firstLink, n);
    }
  }

  /** The filled part of every array, copied, for sending to another thread (buffers are transferable). */
  toTransfer(): TableTransfer {
    const n = this.count;
    return {
      count: n,
      parent: this.parent.slice(0, n),
      root: this.root.slice(0, n),
      type: this.type.slice(0, n),
      dev: this.dev.slice(0, n),
      ino: this.ino.slice(0, n),
      size: this.size.slice(0, n),
      blocks: this.blocks.slice(0, n),
      nlink: this.nlink.slice(0, n),
      mode: this.mode.slice(0, n),
      uid: this.uid.slice(0, n),
      gid: this.gid.slice(0, n),
      mtimeMs: this.mtimeMs.slice(0, n),
      name: this.name.slice(0, n),
      bigIno: [...this.bigIno],
    };
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
    for (let k = 0; k < n; k++) {
      const p = seg.parent[k]!;
      this.parent[base + k] = p >= 0 ? p : base + (-p - 2);
    }
    this.root.set(seg.root, base);
    this.type.set(seg.type, base);
    this.dev.set(seg.dev, base);
    this.ino.set(seg.ino, base);
    this.size.set(seg.size, base);
    this.blocks.set(seg.blocks, base);
    this.nlink.set(seg.nlink, base);
    this.mode.set(seg.mode, base);
    this.uid.set(seg.uid, base);
    this.gid.set(seg.gid, base);
    this.mtimeMs.set(seg.mtimeMs, base);
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

  /** The approximate memory the table holds, in bytes (typed arrays plus an estimate for names). */
  approximateBytes(): number {
    const perSlot = 4 + 2 + 1 + 8 * 5 + 4 * 5;
    let names = 0;
    for (let i = 0; i < this.count; i++) {
      const n = this.name[i]!;
      names += 16 + (typeof n === 'string' ? n.length : 96 + n.length);
    }
    return perSlot * this.parent.length + names + 8 * this.name.length;
  }
}

/** The filled part of an EntryTable as plain transferable data. */
export interface TableTransfer {
  count: number;
  parent: Int32Array;
  root: Uint16Array;
  type: Uint8Array;
  dev: Float64Array;
  ino: Float64Array;
  size: Float64Array;
  blocks: Float64Array;
  nlink: Uint32Array;
  mode: Uint32Array;
  uid: Uint32Array;
  gid: Uint32Array;
  mtimeMs: Float64Array;
  name: Array<string | Uint8Array>;
  bigIno: Array<[number, bigint]>;
}

function toBuffer(p: EntryName): Buffer {
  return typeof p === 'string' ? Buffer.from(p) : p;
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
