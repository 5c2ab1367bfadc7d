/**
 * What kind of package a file is, by its first bytes (the extension only tells a wheel from another zip
 * when the central directory does not): a zip (wheel or bundle), an RPM (its lead), a deb (an `ar` archive
 * whose first member is debian-binary), a tar (ustar header), or a gzip, xz or zstd stream (a compressed
 * tar). A plain tar holding `manifest.json` or `index.json` at its top is a container image, not a package,
 * and so is a gzip or zstd stream whose tar starts as an image archive does (src/image/sniff.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PyfloppyError } from '../errors.js';
import { readAt } from '../image/archive.js';
import { isCompressedImage } from '../image/sniff.js';

export { readAt };

export type PackageKind = 'wheel' | 'zip' | 'tar' | 'rpm' | 'deb';

/** The package kind of a regular file, or undefined (a directory, an image, something else). */
export function packageKind(p: string): PackageKind | undefined {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (st?.isFile() !== true) return undefined;
  const head = readAt(p, 0, 512 + 8);
  if (head.length >= 4 && (head.readUInt32LE(0) === 0x04034b50 || head.readUInt32LE(0) === 0x06054b50))
    return /\.whl$/i.test(p) ? 'wheel' : 'zip';
  if (head.length >= 4 && head.readUInt32BE(0) === 0xedabeedb) return 'rpm';
  if (head.toString('latin1', 0, 8) === '!<arch>\n') return 'deb';
  if (compressed(head)) return isCompressedImage(p) ? undefined : 'tar';
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar')
    return isImageTar(p) ? undefined : 'tar';
  return undefined;
}

/** gzip, zstd or xz magic (a compressed tar; src/image/layer.ts's compressionOf, kept light here). */
function compressed(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return true;
  return head.length >= 6 && head.toString('latin1', 0, 6) === '\xfd7zXZ\x00';
}

const IMAGE_INDEXES = new Set(['manifest.json', 'index.json']);

/** Whether a plain tar names manifest.json or index.json at its top (headers read, contents skipped). */
function isImageTar(p: string): boolean {
  const fd = fs.openSync(p, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const h = Buffer.alloc(512);
    for (let pos = 0; pos + 512 <= size;) {
      if (fs.readSync(fd, h, 0, 512, pos) !== 512 || h[0] === 0) return false;
      const end = h.indexOf(0);
      const name = h.toString('utf8', 0, end === -1 || end > 100 ? 100 : end).replace(/^(\.\/)+/, '');
      if (IMAGE_INDEXES.has(name)) return true;
      const len = parseInt(h.toString('latin1', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
      if (!Number.isFinite(len)) return false;
      pos += 512 + Math.ceil(len / 512) * 512;
    }
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/** A truncated or corrupt package. */
export function broken(file: string, why: string): PyfloppyError {
  return new PyfloppyError('EPACKAGE', `${file}: ${why}`, {
    hint: 'the archive is truncated or corrupt: build, download or copy it again',
  });
}

/** A member that would land outside the package (`..`, absolute, a link out of it). */
export function hostile(file: string, why: string): PyfloppyError {
  return new PyfloppyError('EPACKAGE', `${file}: ${why}`, {
    hint: 'pyfloppy refuses members outside the package; the archive may be hostile',
  });
}

/**
 * A symlink member refused when its target leaves the package: resolved from the member's directory it
 * climbs above the top; an absolute target only where `absolute` allows it (a root file system's own
 * absolute links, in a tar, rpm or deb; never in a wheel or a bundle, whose top is a sys.path entry).
 */
export function checkLink(file: string, name: string, target: string, absolute: boolean): void {
  const clean = name.replace(/^(\.\/)+/, '');
  const at = target.startsWith('/')
    ? absolute
      ? '.'
      : '..'
    : path.posix.normalize(path.posix.join(path.posix.dirname(clean), target));
  if (at === '..' || at.startsWith('../'))
    throw hostile(
      file,
      `symlink ${JSON.stringify(name)} -> ${JSON.stringify(target)} leads out of the package`,
    );
}
