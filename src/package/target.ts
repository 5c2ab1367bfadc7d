/**
 * A package or bundle as the model's target, read as an image is (src/image: one streamed pass into an
 * ImageTree, then the same scan result), with the package's own facts: its kind, compression, its size as
 * shipped and the apparent bytes of all its files. Loaded only when a target is a package.
 */
import fs from 'node:fs';
import { PyfloppyError } from '../errors.js';
import { imagePythonRoots, imageScan } from '../image/entries.js';
import { APPARENT_NOTE, type ImageInfo, imageInfo } from '../image/layers.js';
import { readMembers, type ReadOptions } from '../image/read.js';
import type { ScanResult } from '../scan/scan.js';
import type { PackageKind } from './detect.js';
import type { InstallCaches } from './install.js';
import { packageSource, zipRoots } from './source.js';

export interface PackageInfo {
  path: string;
  kind: PackageKind;
  /** The payload's compression (gzip, xz, zstd, none), or 'zip' (each member deflated or stored). */
  compression: string;
  /** Bytes of the package file as shipped (compressed). */
  archiveBytes: number;
  /** Bytes of its payload as stored (an RPM's or deb's compressed files, without headers or control). */
  payloadBytes: number;
  /** Apparent bytes of every regular file in it, also those outside the Python found. */
  memberBytes: number;
  /** Always: archives have no blocks, so allocated bytes are reported as 0. */
  note: string;
  /** The package's compressed size after each strategy (set by analyze with estimates). */
  compressed?: CompressedEstimate;
  /** For a wheel: the caches installing it adds (set by analyze). */
  install?: InstallCaches;
}

export interface CompressedEstimate {
  /** 'estimate': how it is computed is said in `note`. */
  method: 'estimate';
  note: string;
  strategies: Array<{ id: string; savedApparentBytes: number; compressedBytes: number }>;
}

export async function packageTarget(
  file: string,
  kind: PackageKind,
  options: ReadOptions = {},
): Promise<{ scan: ScanResult; image: ImageInfo; package: PackageInfo }> {
  const src = await packageSource(file, kind);
  const read = await readMembers(file, src, options);
  const roots = (zipRoots(src) ?? imagePythonRoots(read.tree)).filter(
    (r) => read.tree.lookup(r.rel === '' ? [] : r.rel.split('/')) !== -1,
  );
  if (roots.length === 0)
    throw new PyfloppyError('ENOTFOUND', `no Python found in the ${src.kind} ${file}`, {
      hint: 'pyfloppy looks for lib/pythonX.Y and lib/python3/dist-packages under /, /usr, /usr/local and /opt/*; a wheel or zip bundle is a sys.path entry itself',
    });
  const scan = imageScan(read, roots, file);
  options.onProgress?.(scan.table.count, 0);
  const image = imageInfo(read, roots, file);
  const memberBytes = Object.values(image.layers[0]!.added).reduce((a, b) => a + b, 0);
  const info: PackageInfo = {
    path: file,
    kind: src.kind,
    compression: src.compression,
    archiveBytes: fs.statSync(file).size,
    payloadBytes: image.layers[0]!.storedBytes,
    memberBytes,
    note: APPARENT_NOTE,
  };
  return { scan, image, package: info };
}

/**
 * The package's compressed size after each strategy, estimated: the bytes a strategy removes are taken to
 * compress as the payload does on average (payload bytes / member bytes). Stated as an estimate.
 */
export function compressedEstimate(
  info: PackageInfo,
  strategies: ReadonlyArray<{ id: string; saved: { apparentBytes: number } }>,
): CompressedEstimate {
  const ratio = info.memberBytes === 0 ? 0 : info.payloadBytes / info.memberBytes;
  return {
    method: 'estimate',
    note: `estimated, not recompressed: the bytes a strategy removes are taken to compress as the payload does on average (${info.payloadBytes} bytes stored for ${info.memberBytes} apparent, ratio ${ratio.toFixed(3)})`,
    strategies: strategies.map((s) => ({
      id: s.id,
      savedApparentBytes: s.saved.apparentBytes,
      compressedBytes: Math.max(0, Math.round(info.archiveBytes - s.saved.apparentBytes * ratio)),
    })),
  };
}
