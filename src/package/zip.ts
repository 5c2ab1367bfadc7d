/**
 * A wheel or a zip bundle (an AWS Lambda zip or layer) read with yauzl: the central directory first (is it
 * a wheel, where is its sys.path entry), then each member streamed from its offset. A wheel's
 * `NAME-VER.data/purelib` and `platlib` go where the rest of the wheel goes (site-packages, here the tree's
 * `site-packages/`); its other `.data` schemes (scripts, headers, data) land elsewhere when installed and
 * are kept outside it. A bundle's sys.path entry is its top, or (a Lambda layer) `python/lib/pythonX.Y/site-packages`
 * or `python/` when it has one.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import type { Body, Member, OnMember } from '../image/layer.js';
import { PyfloppyError } from '../errors.js';
import { broken, hostile } from './detect.js';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

export interface ZipPlan {
  wheel: boolean;
  /** The sys.path entry inside the tree: 'site-packages' for a wheel, '' or 'python' for a bundle. */
  root: string;
  /** Where a member goes in the tree. */
  place(name: string): string;
}

function zipError(file: string, e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  if (/relative path|absolute path/.test(msg)) return hostile(file, `a member leaves the package (${msg})`);
  return broken(file, `not a readable zip (${msg})`);
}

const WINDOW = 4 << 20;

interface Window {
  start: number;
  buf: Buffer;
}

/**
 * The file read through two 4 MiB windows: one follows the central directory, one the members, which come
 * in file order, so one read serves many (yauzl's own reader makes several small reads per member, each a
 * trip through the thread pool).
 */
class WindowReader extends yauzl.RandomAccessReader {
  private windows: Window[] = [];

  constructor(private readonly fd: number) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return Readable.from([this.bytes(start, end)]);
  }

  /** Bytes [start, end) of the file (fewer at its end). */
  bytes(start: number, end: number): Buffer {
    let w = this.windows.find((x) => start >= x.start && end <= x.start + x.buf.length);
    if (w === undefined) w = this.fill(start, end);
    else this.windows = [...this.windows.filter((x) => x !== w), w];
    return w.buf.subarray(start - w.start, end - w.start);
  }

  override close(callback: (err: Error | null) => void): void {
    fs.close(this.fd, callback);
  }

  /** A new window at start, replacing the one used least recently (the first: hits move to the end). */
  private fill(start: number, end: number): Window {
    const buf = Buffer.allocUnsafe(Math.max(WINDOW, end - start));
    const w = { start, buf: buf.subarray(0, fs.readSync(this.fd, buf, 0, buf.length, start)) };
    this.windows = [...this.windows.slice(-1), w];
    return w;
  }
}

async function openZip(file: string): Promise<{ zip: yauzl.ZipFile; reader: WindowReader }> {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const reader = new WindowReader(fd);
    const zip = await yauzl.fromRandomAccessReaderPromise(reader, size, {
      lazyEntries: true,
      decodeStrings: true,
      validateEntrySizes: true,
    });
    return { zip, reader };
  } catch (e) {
    fs.closeSync(fd);
    throw zipError(file, e);
  }
}

/** Every entry of the central directory, in order. */
async function* entries(file: string, zip: yauzl.ZipFile): AsyncGenerator<yauzl.Entry> {
  try {
    for await (const e of zip.eachEntry()) yield e;
  } catch (e) {
    throw zipError(file, e);
  }
}

/** Read the central directory: a wheel when named .whl or holding a top-level *.dist-info/WHEEL. */
export async function zipPlan(file: string, named: 'wheel' | 'zip'): Promise<ZipPlan> {
  const { zip } = await openZip(file);
  const names: string[] = [];
  try {
    for await (const e of entries(file, zip)) names.push(e.fileName);
  } finally {
    zip.close();
  }
  const wheel = named === 'wheel' || names.filter((n) => /^[^/]+\.dist-info\/WHEEL$/.test(n)).length === 1;
  if (wheel) return { wheel, root: 'site-packages', place: wheelPlace };
  return { wheel, root: bundleRoot(names), place: (n) => n };
}

/** A Lambda layer's python/lib/pythonX.Y/site-packages, else its python/, else the bundle's top. */
function bundleRoot(names: string[]): string {
  const site = names.map((n) => /^python\/lib\/python\d+\.\d+\/site-packages\//.exec(n)?.[0]).find(Boolean);
  if (site !== undefined) return site.slice(0, -1);
  return names.some((n) => n.startsWith('python/')) ? 'python' : '';
}

/** purelib and platlib into site-packages; other schemes beside it; the rest into site-packages. */
function wheelPlace(name: string): string {
  const m = /^[^/]+\.data\/([^/]+)(\/.*)?$/.exec(name);
  if (m === null) return `site-packages/${name}`;
  if (m[1] === 'purelib' || m[1] === 'platlib') return `site-packages${m[2] ?? ''}`;
  return `wheel-data/${m[1]}${m[2] ?? ''}`;
}

function memberOf(e: yauzl.Entry, name: string): Member {
  const mode = e.externalFileAttributes >>> 16;
  const dir = e.fileName.endsWith('/');
  const link = (mode & S_IFMT) === S_IFLNK;
  return {
    name,
    type: dir ? 'directory' : link ? 'symlink' : 'file',
    size: dir || link ? 0 : e.uncompressedSize,
    mode: mode & 0o7777 || (dir ? 0o755 : 0o644),
    uid: 0,
    gid: 0,
    mtime: e.getLastModDate(),
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  };
}

async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Stream every member through onMember; returns the bytes of the archive. */
export async function readZip(file: string, plan: ZipPlan, onMember: OnMember): Promise<number> {
  const { zip, reader } = await openZip(file);
  try {
    for await (const e of entries(file, zip)) {
      const h = memberOf(e, plan.place(e.fileName));
      if (h.type === 'directory') {
        await onMember(h, emptyBody());
        continue;
      }
      const body = await memberBody(file, zip, reader, e);
      if (h.type === 'symlink') h.linkname = (await readAll(body)).toString('utf8');
      await onMember(h, h.type === 'symlink' ? emptyBody() : body);
    }
    return zip.fileSize;
  } catch (e) {
    throw e instanceof PyfloppyError ? e : zipError(file, e);
  } finally {
    zip.close();
  }
}

/**
 * A member's contents: one that fits a window inflated at once from it (no stream, no zlib handle per
 * member: most members are small), a larger one streamed by yauzl.
 */
async function memberBody(
  file: string,
  zip: yauzl.ZipFile,
  reader: WindowReader,
  e: yauzl.Entry,
): Promise<Body> {
  if (
    e.compressedSize > WINDOW ||
    e.isEncrypted() ||
    (e.compressionMethod !== 0 && e.compressionMethod !== 8)
  ) {
    const stream = await zip
      .openReadStreamPromise(e)
      .catch((x: unknown) => Promise.reject(zipError(file, x)));
    return stream;
  }
  const { fileDataStart } = await zip.readLocalFileHeaderPromise(e, { minimal: true });
  const raw = reader.bytes(fileDataStart, fileDataStart + e.compressedSize);
  const data = e.compressionMethod === 0 ? raw : inflate(file, e, raw);
  if (raw.length !== e.compressedSize || data.length !== e.uncompressedSize)
    throw broken(
      file,
      `member ${JSON.stringify(e.fileName)} is truncated or corrupt (its size does not match)`,
    );
  return bufferBody(data);
}

function inflate(file: string, e: yauzl.Entry, raw: Buffer): Buffer {
  try {
    return zlib.inflateRawSync(raw);
  } catch (x) {
    throw broken(file, `member ${JSON.stringify(e.fileName)} is corrupt (${(x as Error).message})`);
  }
}

function bufferBody(data: Buffer): Body {
  return Readable.from(data.length > 0 ? [data] : []);
}

function emptyBody(): Body {
  const gen = (async function* (): AsyncGenerator<Buffer> {})();
  return Object.assign(gen, { resume: () => undefined });
}
