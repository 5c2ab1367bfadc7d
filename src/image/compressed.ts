/**
 * A compressed outer archive (`docker save | gzip`, `docker save | zstd`): a stream, so nothing can be
 * sought. One pass indexes it (member names, sizes, links, first bytes) and keeps the small JSON documents;
 * then each layer is read by decompressing again from the start, the members before it skipped. A layer
 * after the last one read continues the same pass, so layers stored in manifest order cost one more pass
 * in all; a layer stored before the last one read starts a new pass. Nothing is written, nothing held but
 * the documents (64 MiB at most together) and the member index.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { PyfloppyError } from '../errors.js';
import {
  addMember,
  type BlobStore,
  corrupt,
  MAX_DOCUMENT,
  normalize,
  resolveMember,
  type TarMember,
} from './archive.js';
import { type Body, compressionOf, decompressor, feed } from './layer.js';

/** A member starting with `{` or `[` and at most this size is kept while indexing: it may be a document. */
const MAX_KEPT = 4 << 20;

/** A member as tar-stream's iterator hands it over. */
type Entry = Body & { header: tar.Header };

/** tar-stream's member types as tar's type flags (for addMember). */
const TYPE_FLAGS: Record<string, string> = { file: '0', 'contiguous-file': '7', symlink: '2', link: '1' };

interface Pass {
  next(): Promise<IteratorResult<Entry>>;
  /** The position of the last member taken (-1 before the first). */
  at: number;
  stop(): void;
}

export class CompressedTarStore implements BlobStore {
  private readonly members = new Map<string, TarMember>();
  private readonly heads = new Map<number, Buffer>();
  private readonly kept = new Map<number, Buffer>();
  private pass: Pass | undefined;
  /** Decompressions of the whole archive so far (the index included). */
  passes = 0;

  private constructor(
    readonly path: string,
    private readonly magic: Buffer,
  ) {}

  /** Index a gzip or zstd compressed tar in one pass. */
  static async open(path: string, magic: Buffer): Promise<CompressedTarStore> {
    const store = new CompressedTarStore(path, magic);
    await store.index();
    return store;
  }

  has(name: string): boolean {
    return this.members.has(normalize(name));
  }

  read(name: string): Buffer {
    const m = resolveMember(this.members, this.path, name);
    const doc = this.kept.get(m.offset);
    if (doc !== undefined || m.size === 0) return doc ?? Buffer.alloc(0);
    const why = `${name} (${m.size} bytes) is not a JSON document of at most 4 MiB, as a compressed archive's must be`;
    throw corrupt(this.path, why);
  }

  stream(name: string): { stream: Readable; size: number } {
    const m = resolveMember(this.members, this.path, name);
    return { stream: Readable.from(this.body(m.offset)), size: m.size };
  }

  head(name: string): Buffer {
    return this.heads.get(resolveMember(this.members, this.path, name).offset) ?? Buffer.alloc(0);
  }

  private async index(): Promise<void> {
    const pass = this.start();
    let budget = MAX_DOCUMENT;
    try {
      for (let r = await pass.next(); r.done !== true; r = await pass.next())
        budget -= await this.take(++pass.at, r.value, budget);
    } catch (e) {
      pass.stop();
      throw this.broken(e);
    }
  }

  /** Index member `at`: its header, first bytes, and contents when it may be a document; the bytes kept. */
  private async take(at: number, entry: Entry, budget: number): Promise<number> {
    const h = entry.header;
    addMember(this.members, this.path, h.name, indexHeader(h), at);
    const { head, whole } = await firstBytes(entry, h.size <= Math.min(MAX_KEPT, budget));
    this.heads.set(at, head);
    if (whole !== undefined) this.kept.set(at, whole);
    return whole?.length ?? 0;
  }

  /** Member `index`'s contents, from the current pass when it is still ahead, else from a new one. */
  private async *body(index: number): AsyncGenerator<Buffer> {
    if (this.pass === undefined || this.pass.at >= index) this.restart();
    let done = false;
    try {
      yield* await this.advance(this.pass!, index);
      done = true;
    } finally {
      // Why: a body left half read leaves the pass in the middle of a member; the next read starts anew.
      if (!done) this.restart(false);
    }
  }

  /** The pass moved on to member `index`, the members before it read and dropped. */
  private async advance(pass: Pass, index: number): Promise<AsyncIterable<Buffer>> {
    for (;;) {
      const r = await pass.next();
      if (r.done === true) throw corrupt(this.path, 'the archive ends before a member it indexed');
      if (++pass.at === index) return r.value as AsyncIterable<Buffer>;
      await drain(r.value);
    }
  }

  private restart(again = true): void {
    this.pass?.stop();
    this.pass = again ? this.start() : undefined;
  }

  /** A new decompression from the first byte, its members taken one at a time. */
  private start(): Pass {
    this.passes++;
    return openPass(this.path, this.magic);
  }

  private broken(e: unknown): Error {
    if (e instanceof PyfloppyError) return e;
    const kind = compressionOf(this.magic);
    const why = e instanceof Error ? e.message : String(e);
    return corrupt(this.path, `the ${kind} compressed archive is truncated or corrupt (${why})`);
  }
}

function openPass(file: string, magic: Buffer): Pass {
  const src = fs.createReadStream(file);
  const decomp = decompressor(magic);
  const extract = tar.extract();
  feed(pipeline(src, decomp), decomp, extract).catch(() => undefined);
  const it = (extract as unknown as AsyncIterable<Entry>)[Symbol.asyncIterator]();
  const stop = (): void => void [src, decomp, extract].forEach((s) => s.destroy());
  return { next: () => it.next(), at: -1, stop };
}

function indexHeader(h: tar.Header): { type: string; size: number; linkname: string } {
  return { type: TYPE_FLAGS[h.type] ?? 'x', size: h.size, linkname: h.linkname };
}

/** A member's first 8 bytes, and its whole contents when `keep` and it may be a JSON document. */
async function firstBytes(body: Body, keep: boolean): Promise<{ head: Buffer; whole: Buffer | undefined }> {
  const chunks: Buffer[] = [];
  let head = Buffer.alloc(0);
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (head.length < 8) head = Buffer.concat([head, chunk.subarray(0, 8 - head.length)]);
    keep &&= head[0] === 0x7b || head[0] === 0x5b;
    if (keep) chunks.push(chunk);
  }
  return { head, whole: keep && head.length > 0 ? Buffer.concat(chunks) : undefined };
}

async function drain(body: Body): Promise<void> {
  for await (const _ of body as AsyncIterable<Buffer>);
}
