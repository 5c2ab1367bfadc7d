/**
 * An image's layers in order, each with the command that made it (from the config's history): read from a
 * `docker save` archive (`manifest.json`, classic or the OCI layout Docker 25+ writes beside it) or an OCI
 * image layout (`index.json`, nested indexes resolved by platform), as a directory or a tar.
 */
import fs from 'node:fs';
import { PyfloppyError } from '../errors.js';
import { type BlobStore, corrupt, DirStore, readAt, TarStore } from './archive.js';
import { compressionOf } from './layer.js';

export interface LayerRef {
  /** The blob's member name in the store. */
  blob: string;
  /** `sha256:...` when the manifest names it (checked while streaming), else undefined. */
  digest: string | undefined;
  mediaType: string | undefined;
  /** The Dockerfile step or command that made the layer ('' when the history does not say). */
  command: string;
}

export interface ImageSource {
  store: BlobStore;
  format: 'docker-archive' | 'oci-layout' | 'oci-archive';
  /** os/architecture[/variant] from the config, e.g. 'linux/amd64'. */
  platform: string;
  layers: LayerRef[];
}

/** Layer media types read (compression is recognized by its magic bytes whatever the type says). */
const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);
const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);

/** Open an image: its store, format, platform and layers. */
export async function openImage(p: string, platform?: string): Promise<ImageSource> {
  const store = await openStore(p);
  if (store.has('manifest.json')) return dockerArchive(store);
  if (store.has('index.json')) return ociLayout(store, platform, store instanceof DirStore);
  throw corrupt(p, 'neither manifest.json (docker save) nor index.json (OCI layout) is in it');
}

/** A directory, a gzip or zstd compressed tar (indexed in one pass), or an uncompressed tar. */
async function openStore(p: string): Promise<BlobStore> {
  if (fs.statSync(p).isDirectory()) return new DirStore(p);
  const magic = readAt(p, 0, 8);
  const c = compressionOf(magic);
  if (c === 'gzip' || c === 'zstd') {
    const { CompressedTarStore } = await import('./compressed.js');
    return CompressedTarStore.open(p, magic);
  }
  return new TarStore(p);
}

function json(store: BlobStore, name: string): Record<string, unknown> {
  try {
    return JSON.parse(store.read(name).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof PyfloppyError) throw e;
    throw corrupt(store.path, `${name} is not valid JSON`);
  }
}

function dockerArchive(store: BlobStore): ImageSource {
  const list = JSON.parse(store.read('manifest.json').toString('utf8')) as unknown;
  if (!Array.isArray(list) || list.length === 0) throw corrupt(store.path, 'manifest.json lists no image');
  const m = list[0] as { Config?: string; Layers?: string[] };
  if (typeof m.Config !== 'string' || !Array.isArray(m.Layers))
    throw corrupt(store.path, 'manifest.json has no Config or Layers');
  const config = json(store, m.Config);
  const commands = layerCommands(config, m.Layers.length);
  const layers = m.Layers.map((blob, k) => ({
    blob,
    digest: /^blobs\/sha256\/[0-9a-f]{64}$/.test(blob) ? `sha256:${blob.slice(13)}` : undefined,
    mediaType: undefined,
    command: commands[k]!,
  }));
  return { store, format: 'docker-archive', platform: platformOf(config), layers };
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: { os?: string; architecture?: string; variant?: string };
}

function ociLayout(store: BlobStore, platform: string | undefined, isDir: boolean): ImageSource {
  const manifest = json(store, blobName(store, descriptorOf(store, json(store, 'index.json'), platform)));
  const type = typeof manifest.mediaType === 'string' ? manifest.mediaType : undefined;
  if (type !== undefined && !MANIFEST_TYPES.has(type)) throw unknownType(store, type, 'manifest');
  const config = json(store, blobName(store, manifest.config as Descriptor));
  const descs = (manifest.layers ?? []) as Descriptor[];
  const commands = layerCommands(config, descs.length);
  const layers = descs.map((d, k) => {
    if (d.mediaType !== undefined && !LAYER_TYPES.has(d.mediaType))
      throw unknownType(store, d.mediaType, 'layer');
    return { blob: blobName(store, d), digest: d.digest, mediaType: d.mediaType, command: commands[k]! };
  });
  return { store, format: isDir ? 'oci-layout' : 'oci-archive', platform: platformOf(config), layers };
}

/** The image manifest an index leads to, through nested indexes, chosen by platform when there are several. */
function descriptorOf(store: BlobStore, index: Record<string, unknown>, platform?: string): Descriptor {
  for (let depth = 0; depth < 4; depth++) {
    const all = (index.manifests ?? []) as Descriptor[];
    if (all.length === 0) throw corrupt(store.path, 'the index lists no manifest');
    const named = all.map((d) => ({ d, p: descriptorPlatform(d) }));
    const platforms = [...new Set(named.map((x) => x.p).filter((p) => p !== ''))];
    let pick = named;
    if (platform !== undefined) pick = named.filter((x) => x.p === '' || samePlatform(x.p, platform));
    else if (platforms.length > 1)
      throw new PyfloppyError('EUSAGE', `${store.path} holds several platforms: ${platforms.join(', ')}`, {
        hint: 'choose one with --platform',
      });
    if (pick.length === 0)
      throw new PyfloppyError('EUSAGE', `platform ${platform} is not in ${store.path}`, {
        hint: `it holds ${platforms.join(', ') || 'no platform'}`,
      });
    const d = pick[0]!.d;
    if (d.mediaType === undefined || !INDEX_TYPES.has(d.mediaType)) return d;
    index = json(store, blobName(store, d));
  }
  throw corrupt(store.path, 'indexes nested too deep');
}

function descriptorPlatform(d: Descriptor): string {
  const p = d.platform;
  if (p?.os === undefined || p.architecture === undefined) return '';
  return [p.os, p.architecture, ...(p.variant === undefined ? [] : [p.variant])].join('/');
}

/** 'linux/arm64' matches 'linux/arm64/v8'; 'arm64' alone matches any os. */
function samePlatform(have: string, want: string): boolean {
  const w = want.includes('/') ? want : `linux/${want}`;
  return have === w || have.startsWith(`${w}/`);
}

function blobName(store: BlobStore, d: Descriptor | undefined): string {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(d?.digest ?? '');
  if (m === null) throw corrupt(store.path, `bad digest ${JSON.stringify(d?.digest)}`);
  return `blobs/${m[1]}/${m[2]}`;
}

function platformOf(config: Record<string, unknown>): string {
  const os = typeof config.os === 'string' ? config.os : 'unknown';
  const arch = typeof config.architecture === 'string' ? config.architecture : 'unknown';
  return typeof config.variant === 'string' ? `${os}/${arch}/${config.variant}` : `${os}/${arch}`;
}

/** The command of each layer: the history entries that made a layer (not `empty_layer`), in order. */
function layerCommands(config: Record<string, unknown>, n: number): string[] {
  const history = Array.isArray(config.history) ? (config.history as Array<Record<string, unknown>>) : [];
  const made = history.filter((h) => h.empty_layer !== true);
  return Array.from({ length: n }, (_, k) => {
    const c = made[k]?.created_by;
    return typeof c === 'string' ? c.replace(/^\/bin\/sh -c (#\(nop\) )?/, '').trim() : '';
  });
}

function unknownType(store: BlobStore, type: string, what: string): PyfloppyError {
  return new PyfloppyError('EIMAGE', `${store.path}: unknown ${what} media type ${type}`, {
    hint: 'pyfloppy reads OCI and Docker v2 images with tar layers (uncompressed, gzip or zstd)',
  });
}
