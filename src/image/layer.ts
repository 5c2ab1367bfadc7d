/**
 * One layer read once as a stream: its compression recognized by magic bytes (gzip with Node's zlib, zstd
 * with fzstd, or none), its tar members handed over one at a time with their contents as a stream, the
 * compressed bytes hashed on the way and checked against the manifest's digest. Nothing is buffered whole.
 */
import crypto from 'node:crypto';
import { Duplex, PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import tar from 'tar-stream';
import { createUnxz, initModule } from 'node-liblzma/wasm';
import { PyfloppyError } from '../errors.js';
import type { LayerRef } from './manifest.js';
import type { BlobStore } from './archive.js';

export type Member = tar.Header;
/** A member's contents: iterate it, or resume() it to skip them. */
export type Body = AsyncIterable<Buffer> & { resume(): unknown };

/** Called for each member; must consume or resume `body` and resolve when done with it. */
export type OnMember = (header: Member, body: Body) => Promise<void>;

/** A Transform around fzstd's streaming decompressor. */
class ZstdStream extends Transform {
  private readonly z = new Decompress((chunk) => {
    this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  });

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.z.push(chunk);
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.z.push(new Uint8Array(0), true);
      done();
    } catch (e) {
      done(e as Error);
    }
  }
}

/** xz through liblzma compiled to WebAssembly (node-liblzma's wasm build, web streams) as a Node duplex. */
function xzStream(): Duplex {
  const input = new PassThrough();
  async function* plain(): AsyncGenerator<Buffer> {
    await initModule();
    for await (const c of Readable.toWeb(input).pipeThrough(createUnxz()))
      yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  }
  return Duplex.from({ writable: input, readable: Readable.from(plain()) });
}

export type Compression = 'gzip' | 'zstd' | 'xz' | 'none';

/** The compression the first bytes show: gzip (1f 8b), zstd (28 b5 2f fd), xz (fd 37 7a 58 5a 00). */
export function compressionOf(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
  return 'none';
}
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Decompress by the first bytes (compressionOf), else pass the bytes through. */
export function decompressor(head: Buffer): Duplex {
  const c = compressionOf(head);
  return c === 'gzip'
    ? zlib.createGunzip()
    : c === 'zstd'
      ? new ZstdStream()
      : c === 'xz'
        ? xzStream()
        : new PassThrough();
}

/** Stream a layer's members through onMember; bytes read (compressed) are returned. */
export async function readLayer(
  store: BlobStore,
  layer: LayerRef,
  index: number,
  onMember: OnMember,
  fail: (why: string) => PyfloppyError = layerFail(store, layer, index),
): Promise<number> {
  const { stream, size } = store.stream(layer.blob);
  const hash = crypto.createHash('sha256');
  let read = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done): void {
      hash.update(chunk);
      read += chunk.length;
      done(null, chunk);
    },
  });
  const extract = tar.extract();
  const decomp = decompressor(store.head(layer.blob));
  const fed = feed(pipeline(stream, counter, decomp), decomp, extract);
  const members = (async (): Promise<void> => {
    try {
      for await (const entry of extract) await onMember(entry.header, entry as unknown as Body);
    } catch (e) {
      // Why: stop the reading side too, or it would wait for the extractor forever.
      stream.destroy();
      decomp.destroy();
      throw e;
    }
  })();
  const [a, b] = await Promise.allSettled([members, fed]);
  const err =
    a.status === 'rejected'
      ? (a.reason as unknown)
      : b.status === 'rejected'
        ? (b.reason as unknown)
        : undefined;
  if (err instanceof PyfloppyError) throw err;
  if (err !== undefined) throw fail((err as Error).message);
  if (read !== size) throw fail(`read ${read} of ${size} bytes`);
  checkDigest(layer, hash.digest('hex'), fail);
  return read;
}

function layerFail(store: BlobStore, layer: LayerRef, index: number): (why: string) => PyfloppyError {
  return (why) =>
    new PyfloppyError('EIMAGE', `${store.path}: layer ${index + 1} (${layer.blob}): ${why}`, {
      hint: 'the archive is truncated or corrupt: save or copy the image again',
    });
}

/**
 * The decompressed bytes written to the tar extractor with back-pressure; a failure on the way (a
 * truncated or corrupt stream) destroys the extractor with it, so that its reader stops too.
 */
export async function feed(plain: Promise<void>, decomp: Duplex, extract: tar.Extract): Promise<void> {
  // Why: a failure of the pipeline also ends the loop below with the same error; awaited after the loop.
  plain.catch(() => undefined);
  try {
    for await (const chunk of decomp as AsyncIterable<Buffer>)
      if (!extract.write(chunk)) await writable(extract);
    await plain;
    extract.end(undefined);
  } catch (e) {
    extract.destroy(e as Error);
    throw e;
  }
}

/** Until the extractor drains (or is closed: its reader failed). */
function writable(extract: tar.Extract): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      extract.off('drain', done);
      extract.off('close', done);
      resolve();
    };
    extract.on('drain', done);
    extract.on('close', done);
  });
}

function checkDigest(layer: LayerRef, hex: string, fail: (why: string) => PyfloppyError): void {
  if (layer.digest === undefined || !layer.digest.startsWith('sha256:')) return;
  if (layer.digest !== `sha256:${hex}`) throw fail(`its content does not match its digest ${layer.digest}`);
}
