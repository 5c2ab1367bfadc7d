/**
 * A package's members as the image reader's MemberSource (one layer: the payload): a tar (plain or gzip, xz,
 * zstd) and a deb's data.tar through the image's tar reader, an RPM's cpio through readCpio, a wheel or a
 * bundle through yauzl. Symlinks leading out of the package are refused on the way (checkLink).
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PyfloppyError } from '../errors.js';
import type { BlobStore } from '../image/archive.js';
import { type Compression, decompressor, compressionOf, type OnMember, readLayer } from '../image/layer.js';
import type { MemberSource } from '../image/read.js';
import type { FoundRoot } from '../image/roots.js';
import { type Range, debPayload } from './ar.js';
import { readCpio } from './cpio.js';
import { broken, checkLink, type PackageKind, readAt } from './detect.js';
import { rpmPayload } from './rpm.js';
import { readZip, type ZipPlan, zipPlan } from './zip.js';

export interface PackageSource extends MemberSource {
  kind: PackageKind;
  /** The payload's compression; a zip's members are each deflated (or stored). */
  compression: Compression | 'zip';
  /** For a wheel or bundle: its sys.path entry in the tree; otherwise the root search decides. */
  zipRoot?: string;
}

/** One byte range of a file as a blob store (a tar's whole file, a deb's data.tar, an RPM's payload). */
class RangeStore implements BlobStore {
  constructor(
    readonly path: string,
    private readonly range: Range,
  ) {}

  has(name: string): boolean {
    return name === this.range.name;
  }

  read(): Buffer {
    return readAt(this.path, this.range.offset, this.range.size);
  }

  stream(): { stream: Readable; size: number } {
    const { offset, size } = this.range;
    const end = size === 0 ? offset - 1 : offset + size - 1;
    return { stream: fs.createReadStream(this.path, { start: offset, end: Math.max(end, 0) }), size };
  }

  head(): Buffer {
    return readAt(this.path, this.range.offset, Math.min(8, this.range.size));
  }
}

const facts = (kind: PackageKind): MemberSource['facts'] => ({
  format: kind,
  platform: 'package',
  layers: [{ blob: kind, digest: undefined, mediaType: undefined, command: '' }],
});

/** Symlinks checked before the member reaches the tree. */
function guarded(file: string, onMember: OnMember, absolute: boolean): OnMember {
  return async (h, body) => {
    if (h.type === 'symlink') checkLink(file, h.name, h.linkname ?? '', absolute);
    return onMember(h, body);
  };
}

export async function packageSource(file: string, kind: PackageKind): Promise<PackageSource> {
  if (kind === 'wheel' || kind === 'zip') return zipSource(file, await zipPlan(file, kind));
  const size = fs.statSync(file).size;
  const range =
    kind === 'deb' ? debPayload(file) : kind === 'rpm' ? rpmPayload(file) : { name: 'tar', offset: 0, size };
  const compression = compressionOf(readAt(file, range.offset, 8));
  const read = kind === 'rpm' ? cpioReader(file, range) : tarReader(file, range);
  return { kind, compression, facts: facts(kind), noun: 'package', readLayer: read };
}

function zipSource(file: string, plan: ZipPlan): PackageSource {
  const kind = plan.wheel ? 'wheel' : 'zip';
  return {
    kind,
    compression: 'zip',
    facts: facts(kind),
    noun: 'package',
    pythonEverywhere: true,
    zipRoot: plan.root,
    readLayer: (_k, onMember) => readZip(file, plan, guarded(file, onMember, false)),
  };
}

const failOf =
  (file: string) =>
  (why: string): PyfloppyError =>
    broken(file, `truncated or corrupt payload: ${why}`);

function tarReader(file: string, range: Range): MemberSource['readLayer'] {
  const layer = { blob: range.name, digest: undefined, mediaType: undefined, command: '' };
  return (_k, onMember) =>
    readLayer(new RangeStore(file, range), layer, 0, guarded(file, onMember, true), failOf(file));
}

function cpioReader(file: string, range: Range): MemberSource['readLayer'] {
  return async (_k, onMember) => {
    const { stream } = new RangeStore(file, range).stream();
    const decomp = decompressor(readAt(file, range.offset, 8));
    const plain = pipeline(stream, decomp);
    plain.catch(() => undefined);
    try {
      await readCpio(decomp, guarded(file, onMember, true), failOf(file));
      await plain;
    } catch (e) {
      stream.destroy();
      decomp.destroy();
      throw e instanceof PyfloppyError ? e : broken(file, (e as Error).message);
    }
    return range.size;
  };
}

/** Where Python is: a wheel's or bundle's sys.path entry, else found as in an image. */
export function zipRoots(src: PackageSource): FoundRoot[] | undefined {
  return src.zipRoot === undefined ? undefined : [{ rel: src.zipRoot, label: 'purelib' }];
}
