/**
 * Where an image's blobs are: a directory (an OCI layout) or an uncompressed tar (a `docker save` archive,
 * an OCI archive). A tar is indexed by reading its 512-byte headers only, seeking over the contents, so that
 * a layer is then streamed straight from its offset: nothing is extracted, nothing is written. A compressed
 * tar is src/image/compressed.ts's, which shares the member index and its link rules.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { PyfloppyError } from '../errors.js';

/** JSON documents (manifests, configs, indexes) are read whole up to this size; layers are streamed. */
export const MAX_DOCUMENT = 64 << 20;

export interface BlobStore {
  /** What the user named. */
  readonly path: string;
  has(name: string): boolean;
  /** A small member (a JSON document), read whole. */
  read(name: string): Buffer;
  /** A member's bytes as a stream, and its size. */
  stream(name: string): { stream: Readable; size: number };
  /** A member's first bytes (up to 8), to recognize its compression. */
  head(name: string): Buffer;
}

export function readAt(file: string, pos: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  const fd = fs.openSync(file, 'r');
  try {
    return buf.subarray(0, fs.readSync(fd, buf, 0, len, pos));
  } finally {
    fs.closeSync(fd);
  }
}

/** A directory: members are files below it, named without `..` or a leading slash. */
export class DirStore implements BlobStore {
  constructor(readonly path: string) {}

  has(name: string): boolean {
    return fs.statSync(this.file(name), { throwIfNoEntry: false })?.isFile() === true;
  }

  read(name: string): Buffer {
    const size = this.sizeOf(name);
    if (size > MAX_DOCUMENT) throw corrupt(this.path, `${name} is ${size} bytes, too large for a document`);
    return fs.readFileSync(this.file(name));
  }

  stream(name: string): { stream: Readable; size: number } {
    const size = this.sizeOf(name);
    return { stream: fs.createReadStream(this.file(name)), size };
  }

  head(name: string): Buffer {
    return readAt(this.file(name), 0, Math.min(8, this.sizeOf(name)));
  }

  private sizeOf(name: string): number {
    const st = fs.statSync(this.file(name), { throwIfNoEntry: false });
    if (st?.isFile() !== true) throw corrupt(this.path, `${name} is missing`);
    return st.size;
  }

  private file(name: string): string {
    return path.join(this.path, safeMember(this.path, name));
  }
}

export interface TarMember {
  /** Where its contents start (TarStore), or its position among the members (CompressedTarStore). */
  offset: number;
  size: number;
  /** For a symlink or hard link member: the member it names (docker save links layer.tar to a blob). */
  link?: string;
}

/** An uncompressed tar: members found by their headers, read at their offsets. */
export class TarStore implements BlobStore {
  private readonly members = new Map<string, TarMember>();

  constructor(readonly path: string) {
    const fd = fs.openSync(path, 'r');
    try {
      indexTar(fd, fs.fstatSync(fd).size, path, this.members);
    } finally {
      fs.closeSync(fd);
    }
  }

  has(name: string): boolean {
    return this.members.has(normalize(name));
  }

  read(name: string): Buffer {
    const m = this.member(name);
    if (m.size > MAX_DOCUMENT)
      throw corrupt(this.path, `${name} is ${m.size} bytes, too large for a document`);
    const buf = readAt(this.path, m.offset, m.size);
    if (buf.length !== m.size) throw corrupt(this.path, `${name} is truncated`);
    return buf;
  }

  stream(name: string): { stream: Readable; size: number } {
    const m = this.member(name);
    const stream =
      m.size === 0
        ? fs.createReadStream(this.path, { start: 0, end: -1 })
        : fs.createReadStream(this.path, { start: m.offset, end: m.offset + m.size - 1 });
    return { stream, size: m.size };
  }

  head(name: string): Buffer {
    const m = this.member(name);
    return readAt(this.path, m.offset, Math.min(8, m.size));
  }

  private member(name: string): TarMember {
    return resolveMember(this.members, this.path, name);
  }
}

/** A member, links followed inside the archive (at most 8 hops). */
export function resolveMember(members: Map<string, TarMember>, file: string, name: string): TarMember {
  let key = normalize(name);
  for (let hops = 0; hops < 8; hops++) {
    const m = members.get(key);
    if (m === undefined) throw corrupt(file, `${name} is missing`);
    if (m.link === undefined) return m;
    key = m.link;
  }
  throw corrupt(file, `${name}: too many links`);
}

/** Read every header of a tar, seeking over contents. */
function indexTar(fd: number, fileSize: number, file: string, out: Map<string, TarMember>): void {
  const header = Buffer.alloc(512);
  let pos = 0;
  let longName: string | undefined;
  while (pos + 512 <= fileSize) {
    if (fs.readSync(fd, header, 0, 512, pos) !== 512) break;
    if (header.every((b) => b === 0)) return;
    const h = parseHeader(header, file, pos);
    const data = pos + 512;
    if (data + h.size > fileSize) throw corrupt(file, `member ${h.name} is truncated`);
    if (h.type === 'L' || h.type === 'x') {
      longName = h.type === 'L' ? readString(fd, data, h.size) : paxPath(readString(fd, data, h.size));
    } else {
      addMember(out, file, longName ?? h.name, h, data);
      longName = undefined;
    }
    pos = data + Math.ceil(h.size / 512) * 512;
  }
  if (pos < fileSize || fileSize === 0) throw corrupt(file, 'the archive ends inside a member');
}

export function addMember(
  out: Map<string, TarMember>,
  file: string,
  rawName: string,
  h: { type: string; size: number; linkname: string },
  data: number,
): void {
  const name = normalize(safeMember(file, rawName));
  if (h.type === '2') {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(name), h.linkname));
    out.set(name, { offset: 0, size: 0, link: normalize(safeMember(file, target)) });
  } else if (h.type === '1') {
    out.set(name, { offset: 0, size: 0, link: normalize(safeMember(file, h.linkname)) });
  } else if (h.type === '0' || h.type === '\0' || h.type === '7')
    out.set(name, { offset: data, size: h.size });
}

function parseHeader(
  b: Buffer,
  file: string,
  pos: number,
): { name: string; type: string; size: number; linkname: string } {
  let sum = 0;
  for (let k = 0; k < 512; k++) sum += k >= 148 && k < 156 ? 32 : b[k]!;
  if (sum !== octal(b, 148, 8)) throw corrupt(file, `not a tar archive (bad header checksum at byte ${pos})`);
  const prefix = b.subarray(257, 263).toString('latin1') === 'ustar\0' ? cstr(b, 345, 155) : '';
  const name = cstr(b, 0, 100);
  return {
    name: prefix === '' ? name : `${prefix}/${name}`,
    type: String.fromCharCode(b[156]!),
    size: octal(b, 124, 12),
    linkname: cstr(b, 157, 100),
  };
}

function cstr(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end === -1 || end > start + len ? start + len : end);
}

function octal(b: Buffer, start: number, len: number): number {
  if ((b[start]! & 0x80) !== 0) return Number(b.readBigUInt64BE(start + len - 8));
  const s = cstr(b, start, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function readString(fd: number, pos: number, size: number): string {
  const buf = Buffer.alloc(size);
  fs.readSync(fd, buf, 0, size, pos);
  return buf.toString('utf8').replace(/\0+$/, '');
}

/** The path of a pax extended header ('27 path=blobs/...\n' records). */
function paxPath(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(line);
    if (m !== null) return m[1];
  }
  return undefined;
}

export function normalize(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

/** A member name as written, refused when it climbs out (`..`) or is absolute. */
export function safeMember(file: string, name: string): string {
  if (name.startsWith('/') || name.split('/').includes('..'))
    throw corrupt(file, `member ${JSON.stringify(name)} leaves the archive (absolute or with ..)`);
  return name;
}

export function corrupt(file: string, why: string): PyfloppyError {
  return new PyfloppyError('EIMAGE', `${file}: ${why}`, {
    hint: 'give a complete `docker save` archive, an OCI image layout (directory or tar) or a root file system',
  });
}
