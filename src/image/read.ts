/**
 * Read an image: every layer streamed once, in order, into an ImageTree. What later stages need from the
 * contents is taken on the way and the rest is skipped: a SHA-256 of every bytecode cache (byte identity),
 * its first 16 bytes (magic number, header), and the text of the few small files that describe a tree
 * (RECORD, installed-files.txt, pyvenv.cfg). No member is held whole but those texts.
 */
import crypto from 'node:crypto';
import { inspectBytes, type PycFacts } from '../check/inspect.js';
import { extensionModuleName, parseCacheName } from '../python/layout.js';
import { firstFilename } from '../python/marshal.js';
import { MAGIC_RANGES, parsePycHeader, sourceHash } from '../python/pyc.js';
import { type Body, type Member, type OnMember, readLayer } from './layer.js';
import { type ImageSource, openImage } from './manifest.js';
import { ImageTree, N_DIR, N_FILE, N_OTHER, N_SYMLINK } from './tree.js';

/** The columns of the layer table, by file type (`other`: outside any Python directory). */
export const LAYER_KINDS = [
  'source',
  'bytecode-0',
  'bytecode-1',
  'bytecode-2',
  'legacy-bytecode',
  'extension',
  'data',
  'other',
] as const;
export type LayerKind = (typeof LAYER_KINDS)[number];
const L_OTHER = 7;
const L_BYTECODE0 = 1;
const L_DATA = 6;

/** Texts kept whole (what classify and the version detection read), up to this size each. */
const KEPT_TEXTS = new Set(['RECORD', 'installed-files.txt', 'pyvenv.cfg']);
const MAX_TEXT = 16 << 20;

/** What the layer table reads of a source: its format, platform and layers. */
export type SourceFacts = Pick<ImageSource, 'platform' | 'layers'> & { format: string };

/** Members layer by layer: an image's layers, or a package's one payload (src/package). */
export interface MemberSource {
  facts: SourceFacts;
  /** Streams layer k's members through onMember; returns the compressed bytes read. */
  readLayer(k: number, onMember: OnMember): Promise<number>;
  /** What messages call it: 'image', 'package'. */
  noun: string;
  /** Every file is inside a Python directory (a wheel or a zip bundle is a sys.path entry itself). */
  pythonEverywhere?: boolean;
}

export interface ImageRead {
  source: SourceFacts;
  tree: ImageTree;
  /** Per inode: its layer-table kind. */
  kind: Uint8Array;
  /** Per bytecode inode: SHA-256 of its contents, and its first 16 bytes. */
  digest: Map<number, Buffer>;
  head: Map<number, Buffer>;
  /** Kept texts by inode. */
  text: Map<number, Buffer>;
  /** Compressed bytes read per layer. */
  layerBytes: number[];
  /** With `inspect` (check): per cache inode what its bytes tell; per source inode its hashes by magic. */
  facts: Map<number, PycFacts>;
  sourceHashes: Map<number, Map<number, Buffer>>;
  /** Magic numbers of the hash-based caches met so far: sources read after them are hashed for each. */
  hashMagics: Set<number>;
  /** Per level-0 cache inode: the file name its code names (relocating it changes only that name's length). */
  filename: Map<number, string>;
}

export interface ReadOptions {
  platform?: string;
  /** Inspect caches as check does (header, co_filenames) and hash sources for hash-based caches. */
  inspect?: boolean;
  onProgress?: (entries: number, apparentBytes: number) => void;
}

export async function readImage(path: string, options: ReadOptions = {}): Promise<ImageRead> {
  const source = await openImage(path, options.platform);
  return readMembers(
    path,
    {
      facts: source,
      noun: 'image',
      readLayer: (k, onMember) => readLayer(source.store, source.layers[k]!, k, onMember),
    },
    options,
  );
}

export async function readMembers(path: string, src: MemberSource, options: ReadOptions): Promise<ImageRead> {
  const tree = new ImageTree(path, src.noun);
  const out: ImageRead = {
    source: src.facts,
    tree,
    kind: new Uint8Array(0),
    digest: new Map(),
    head: new Map(),
    text: new Map(),
    layerBytes: [],
    facts: new Map(),
    sourceHashes: new Map(),
    hashMagics: new Set(),
    filename: new Map(),
  };
  const kinds: number[] = [L_OTHER];
  let entries = 0;
  let bytes = 0;
  const everywhere = src.pythonEverywhere === true;
  for (let k = 0; k < src.facts.layers.length; k++) {
    tree.current = k;
    const read = await src.readLayer(k, async (h, body) => {
      await applyMember(out, kinds, h, body, options.inspect === true, everywhere);
      entries++;
      bytes += h.size;
      if ((entries & 4095) === 0) options.onProgress?.(entries, bytes);
    });
    out.layerBytes.push(read);
  }
  out.kind = Uint8Array.from(kinds);
  return out;
}

async function applyMember(
  out: ImageRead,
  kinds: number[],
  h: Member,
  body: Body,
  inspect: boolean,
  everywhere: boolean,
): Promise<void> {
  const tree = out.tree;
  const parts = tree.parts(h.name);
  if (tree.whiteout(parts)) return skip(body);
  if (h.type === 'link') {
    tree.link(parts, h.linkname);
    return skip(body);
  }
  const type =
    h.type === 'directory'
      ? N_DIR
      : h.type === 'symlink'
        ? N_SYMLINK
        : h.type === 'file' || h.type === 'contiguous-file'
          ? N_FILE
          : N_OTHER;
  const size = type === N_FILE ? h.size : type === N_SYMLINK ? Buffer.byteLength(h.linkname) : 0;
  const init = { type, size, mode: h.mode, uid: h.uid, gid: h.gid, mtimeMs: h.mtime.getTime() };
  const ino = tree.add(parts, init, type === N_SYMLINK ? h.linkname : undefined);
  while (kinds.length <= ino) kinds.push(L_OTHER);
  if (type !== N_FILE) return skip(body);
  const kind = layerKind(parts, everywhere);
  kinds[ino] = kind;
  const name = parts[parts.length - 1]!;
  if (kind >= 1 && kind <= 4) return measureCache(out, ino, body, inspect, kind === L_BYTECODE0);
  if (KEPT_TEXTS.has(name) && h.size <= MAX_TEXT) return keepText(out, ino, body);
  if (inspect && kind === 0) return hashSource(out, ino, body, parts);
  return skip(body);
}

async function skip(body: Body): Promise<void> {
  for await (const _ of body);
}

/**
 * A cache's SHA-256 and header; a level-0 cache's code file name too (sourceless's estimate relocates it);
 * with `inspect`, all check reads from it. Held whole only while it is read.
 */
async function measureCache(
  out: ImageRead,
  ino: number,
  body: Body,
  inspect: boolean,
  level0: boolean,
): Promise<void> {
  const hash = crypto.createHash('sha256');
  const chunks: Buffer[] = [];
  let head = Buffer.alloc(0);
  for await (const chunk of body) {
    hash.update(chunk);
    if (inspect || level0) chunks.push(chunk);
    if (head.length < 16) head = Buffer.concat([head, chunk.subarray(0, 16 - head.length)]);
  }
  out.digest.set(ino, hash.digest());
  out.head.set(ino, head);
  if (level0) keepFilename(out, ino, chunks);
  if (!inspect) return;
  const facts = inspectBytes(Buffer.concat(chunks));
  out.facts.set(ino, facts);
  if (facts.ok && facts.expectedHash !== undefined) out.hashMagics.add(facts.magic);
}

function keepFilename(out: ImageRead, ino: number, chunks: Buffer[]): void {
  const data = Buffer.concat(chunks);
  try {
    const header = parsePycHeader(data);
    const name = firstFilename(data, Number(header.magic.version.split('.')[1]), header.headerSize);
    if (name !== undefined) out.filename.set(ino, name);
  } catch {
    // Why: not a cache CPython would read (bad magic, truncated): its estimate then needs the file on disk.
  }
}

/**
 * A source's importlib.util.source_hash for each magic number that may ask: those of the hash-based caches
 * met so far, and the release magic of the pythonX.Y directory it is in (a cache met after its source).
 */
async function hashSource(out: ImageRead, ino: number, body: Body, parts: readonly string[]): Promise<void> {
  const magics = new Set(out.hashMagics);
  const dir = parts.find((p) => /^python\d+\.\d+t?$/.test(p));
  const release = MAGIC_RANGES.find((r) => dir?.replace(/t$/, '') === `python${r.version}`);
  if (release !== undefined) magics.add(release.last);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  const data = Buffer.concat(chunks);
  out.sourceHashes.set(ino, new Map([...magics].map((m) => [m, sourceHash(data, m)])));
}

async function keepText(out: ImageRead, ino: number, body: Body): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  out.text.set(ino, Buffer.concat(chunks));
}

/** A Python directory: pythonX.Y, site-packages, dist-packages, python3 (Debian's /usr/lib/python3). */
function isPythonDir(p: string): boolean {
  return /^python\d+(\.\d+t?)?$/.test(p) || p === 'site-packages' || p === 'dist-packages';
}

/** A file's layer-table kind from its path alone. */
export function layerKind(parts: readonly string[], everywhere = false): number {
  if (!everywhere && !parts.slice(0, -1).some(isPythonDir)) return L_OTHER;
  const name = parts[parts.length - 1]!;
  if (name.endsWith('.py')) return 0;
  if (name.endsWith('.pyc')) {
    const cache = parts[parts.length - 2] === '__pycache__' ? parseCacheName(name) : undefined;
    return cache === undefined ? 4 : 1 + cache.level;
  }
  if (extensionModuleName(name) !== undefined) return 5;
  return L_DATA;
}
