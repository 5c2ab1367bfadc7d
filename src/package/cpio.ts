/**
 * A cpio archive in the `newc` format (RPM payloads) read as a stream: each 110-byte ASCII header, the name,
 * the data, all padded to 4 bytes, up to `TRAILER!!!`. Members are handed over as tar-stream headers with
 * their contents as a stream. Hard links: newc stores the data with one name only (the last); the names
 * before it are handed over as links to it, a group never given data as one empty file and links.
 */
import type { Body, Member, OnMember } from '../image/layer.js';

type Fail = (why: string) => Error;

/** A byte stream read in exact amounts. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly it: AsyncIterator<Buffer>,
    private readonly fail: Fail,
  ) {}

  async exact(n: number): Promise<Buffer> {
    while (this.buf.length < n) if (!(await this.fill())) throw this.fail('the archive ends inside a member');
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async *take(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      if (this.buf.length === 0 && !(await this.fill())) throw this.fail('the archive ends inside a member');
      const k = Math.min(n, this.buf.length);
      yield this.buf.subarray(0, k);
      this.buf = this.buf.subarray(k);
      n -= k;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n));
  }

  /** The rest of the stream, read and dropped (padding after the trailer). */
  async drain(): Promise<void> {
    while (await this.fill()) this.buf = Buffer.alloc(0);
  }

  private async fill(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done === true) return false;
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }
}

interface CpioHeader {
  ino: string;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  size: number;
  name: string;
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

async function readHeader(r: ByteReader, fail: Fail): Promise<CpioHeader> {
  const h = (await r.exact(110)).toString('latin1');
  if (h.slice(0, 6) !== '070701' && h.slice(0, 6) !== '070702')
    throw fail('not a newc cpio archive (bad member magic)');
  const f = (k: number): number => parseInt(h.slice(6 + k * 8, 14 + k * 8), 16);
  const nameSize = f(11);
  const name = (await r.exact(nameSize)).toString('utf8', 0, Math.max(0, nameSize - 1));
  await r.skip(pad4(110 + nameSize));
  const ino = `${f(7)}:${f(8)}:${f(0)}`;
  return { ino, mode: f(1), uid: f(2), gid: f(3), nlink: f(4), mtime: f(5), size: f(6), name };
}

const TYPES: Record<number, Member['type']> = {
  0o100000: 'file',
  0o040000: 'directory',
  0o120000: 'symlink',
  0o020000: 'character-device',
  0o060000: 'block-device',
  0o010000: 'fifo',
};

function member(h: CpioHeader, type: Member['type'], size: number, linkname = ''): Member {
  return {
    name: h.name,
    type,
    size,
    mode: h.mode & 0o7777,
    uid: h.uid,
    gid: h.gid,
    mtime: new Date(h.mtime * 1000),
    linkname,
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  };
}

function body(chunks: AsyncGenerator<Buffer>): Body {
  return {
    [Symbol.asyncIterator]: () => chunks,
    resume: () =>
      void (async (): Promise<void> => {
        for await (const _ of chunks);
      })(),
  };
}

const EMPTY = (): Body => body((async function* (): AsyncGenerator<Buffer> {})());

/** Read every member of a newc cpio stream through onMember. */
export async function readCpio(input: AsyncIterable<Buffer>, onMember: OnMember, fail: Fail): Promise<void> {
  const r = new ByteReader(input[Symbol.asyncIterator](), fail);
  const links = new Map<string, { data: string | undefined; waiting: CpioHeader[] }>();
  for (;;) {
    const h = await readHeader(r, fail);
    if (h.name === 'TRAILER!!!') break;
    await oneMember(r, h, links, onMember);
    await r.skip(pad4(h.size));
  }
  for (const g of links.values()) if (g.data === undefined) await emptyGroup(g.waiting, onMember);
  await r.drain();
}

type Links = Map<string, { data: string | undefined; waiting: CpioHeader[] }>;

async function oneMember(r: ByteReader, h: CpioHeader, links: Links, onMember: OnMember): Promise<void> {
  const type = TYPES[h.mode & 0o170000] ?? 'file';
  if (type === 'symlink') {
    const target = (await r.exact(h.size)).toString('utf8');
    return onMember(member(h, 'symlink', 0, target), EMPTY());
  }
  if (type !== 'file' || h.nlink < 2) return onMember(member(h, type, h.size), body(r.take(h.size)));
  const g = links.get(h.ino) ?? { data: undefined, waiting: [] };
  links.set(h.ino, g);
  if (g.data !== undefined) return onMember(member(h, 'link', 0, g.data), EMPTY());
  if (h.size === 0) {
    g.waiting.push(h);
    return;
  }
  g.data = h.name;
  await onMember(member(h, 'file', h.size), body(r.take(h.size)));
  for (const w of g.waiting) await onMember(member(w, 'link', 0, h.name), EMPTY());
}

/** Hard-linked names that never carried data: one empty file, the others links to it. */
async function emptyGroup(names: CpioHeader[], onMember: OnMember): Promise<void> {
  const [first, ...rest] = names;
  if (first === undefined) return;
  await onMember(member(first, 'file', 0), EMPTY());
  for (const w of rest) await onMember(member(w, 'link', 0, first.name), EMPTY());
}
