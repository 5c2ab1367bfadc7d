/**
 * Whether a gzip or zstd compressed file is a container image archive (`docker save | gzip`): its first
 * 256 KiB decompressed (no more: a zstd block is up to 128 KiB), the first tar member's name one an image
 * archive starts with. Light: the package detection and the image detection both ask it before anything
 * heavy is loaded.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';

/** The first member of a docker save or OCI archive: its index files, blobs/, or a layer id's files. */
const IMAGE_FIRST =
  /^(\.\/)?(manifest\.json|index\.json|oci-layout|repositories|blobs(\/.*)?|[0-9a-f]{64}(\.json|\.tar|\/.*)?)?$/;

export function isCompressedImage(p: string): boolean {
  const head = firstBytes(p, 256 << 10);
  let plain: Buffer | undefined;
  try {
    plain = inflate(head);
  } catch {
    return false;
  }
  return plain !== undefined && IMAGE_FIRST.test(firstName(plain) ?? '-');
}

/** The first member's name in a tar's first bytes, past pax headers and a `./` directory. */
function firstName(plain: Buffer): string | undefined {
  for (let pos = 0; pos + 512 <= plain.length;) {
    if (plain.toString('latin1', pos + 257, pos + 262) !== 'ustar') return undefined;
    const { name, type, size } = headerAt(plain, pos);
    if (!'xgLK'.includes(type) && name !== '.') return name;
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

function headerAt(plain: Buffer, pos: number): { name: string; type: string; size: number } {
  const end = plain.indexOf(0, pos);
  const name = plain.toString('utf8', pos, end === -1 || end > pos + 100 ? pos + 100 : end);
  const size = parseInt(plain.toString('latin1', pos + 124, pos + 136).replace(/\0.*$/, ''), 8) || 0;
  return { name: name.replace(/\/+$/, ''), type: String.fromCharCode(plain[pos + 156]!), size };
}

/** What the first compressed bytes give, or undefined when they are neither gzip nor zstd. */
function inflate(head: Buffer): Buffer | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b)
    return zlib.gunzipSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  if (head.length < 4 || head.readUInt32LE(0) !== 0xfd2fb528) return undefined;
  const out: Uint8Array[] = [];
  new Decompress((chunk) => out.push(chunk)).push(head);
  return Buffer.concat(out);
}

function firstBytes(p: string, len: number): Buffer {
  const buf = Buffer.alloc(len);
  const fd = fs.openSync(p, 'r');
  try {
    return buf.subarray(0, fs.readSync(fd, buf, 0, len, 0));
  } finally {
    fs.closeSync(fd);
  }
}
