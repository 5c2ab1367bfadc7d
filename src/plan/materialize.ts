/**
 * A composition's operations as a plan writes them: paths relative to the root, the fingerprint (and
 * SHA-256) of every file an operation touches, the bytes of new files made to know their sizes and hashes.
 * The sizes of new files in the layout's operations are replaced by those of the bytes made, so that the
 * accounting of `saved` counts what apply will write.
 */
import type { Bytes } from '../model/footprint.js';
import { pathOf } from '../scan/table.js';
import { linkFrees } from '../strategies/accounting.js';
import type { Layout, LayoutOp } from '../strategies/strategy.js';
import { fingerprint, makeContent, readFingerprinted, sha256, zipInput } from './files.js';
import type { PlanOperation, WriteContent, ZipMemberOp } from './plan.js';
import { buildZip, type ZipInput } from './zip.js';

const ZERO: Bytes = { apparentBytes: 0, allocatedBytes: 0 };

/** The operations; `hashes` receives the SHA-256 of each new file's bytes, by path (for src/plan/record.ts). */
export async function materialize(l: Layout, hashes?: Map<string, string>): Promise<PlanOperation[]> {
  const out: PlanOperation[] = [];
  for (const o of l.ops) out.push(await concrete(l, o, hashes));
  return out;
}

async function concrete(l: Layout, o: LayoutOp, hashes?: Map<string, string>): Promise<PlanOperation> {
  const abs = (i: number): string => pathOf(l.t, i) as string;
  switch (o.op) {
    case 'remove':
      return { op: 'remove', path: l.rel(o.entry), fp: fingerprint(abs(o.entry), true), frees: ZERO };
    case 'rmdir':
      return { op: 'rmdir', path: l.rel(o.entry), fp: fingerprint(abs(o.entry), false), frees: ZERO };
    case 'link':
      return {
        op: 'link',
        path: l.rel(o.entry),
        target: l.rel(o.target),
        fp: fingerprint(abs(o.entry), true),
        targetFp: fingerprint(abs(o.target), true),
        frees: linkFrees(l.ctx, o.entry),
      };
    case 'move':
      return { op: 'move', from: l.rel(o.entry), to: l.path(o.to), fp: fingerprint(abs(o.entry), true) };
    case 'mkdir':
      return { op: 'mkdir', path: l.path(o.at), mode: o.mode };
    case 'write':
      return write(l, o, abs, hashes);
    case 'zip':
      return await zip(l, o, abs);
  }
}

/**
 * An empty marker, a source's gzip member, relocated bytecode or bytes the plan carries: the file it is made
 * from read once, hashed, and made into the bytes apply will write, to know their size.
 */
function write(
  l: Layout,
  o: Extract<LayoutOp, { op: 'write' }>,
  abs: (i: number) => string,
  hashes?: Map<string, string>,
): PlanOperation {
  const from = o.gzipOf ?? o.relocateOf;
  let content: WriteContent = { empty: true };
  let made: Uint8Array = new Uint8Array(0);
  if (o.data !== undefined) {
    content = { inline: Buffer.from(o.data).toString('base64'), sha256: sha256(o.data) };
    made = o.data;
  } else if (from !== undefined) {
    const { fp, data } = readFingerprinted(abs(from));
    content =
      o.gzipOf !== undefined
        ? { gzipOf: l.rel(from), fp }
        : { relocateOf: l.rel(from), fp, filename: o.filename! };
    made = makeContent(content, data);
  }
  o.size = made.length;
  const at = l.path(o.at);
  hashes?.set(at, sha256(made));
  return { op: 'write', path: at, mode: o.mode, content, size: o.size };
}

/** The archive: members read once (hashed and zipped), built to know its size and hash. */
async function zip(
  l: Layout,
  o: Extract<LayoutOp, { op: 'zip' }>,
  abs: (i: number) => string,
): Promise<PlanOperation> {
  const members: ZipMemberOp[] = [];
  const inputs: ZipInput[] = [];
  for (const m of o.members) {
    const { fp, data } = readFingerprinted(abs(m.entry));
    const member: ZipMemberOp = { name: m.name, from: l.rel(m.entry), fp };
    if (m.filename !== undefined) member.filename = m.filename;
    members.push(member);
    inputs.push(zipInput(member, data));
  }
  const bytes = await buildZip(inputs);
  o.size = bytes.length;
  return { op: 'zip', path: o.path, mode: 0o644, members, size: bytes.length, sha256: sha256(bytes) };
}
