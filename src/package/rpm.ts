/**
 * An RPM's payload: after the 96-byte lead, the signature header (padded to 8 bytes) and the main header,
 * each sized from its index count and data length; the rest of the file is the (compressed) cpio archive.
 */
import fs from 'node:fs';
import type { Range } from './ar.js';
import { broken, readAt } from './detect.js';

const LEAD = 96;
const HEADER_MAGIC = 0x8eade8;

/** Bytes of the header structure at `pos` (16-byte intro, 16 per index entry, the data). */
function headerSize(file: string, pos: number, what: string): number {
  const h = readAt(file, pos, 16);
  if (h.length < 16) throw broken(file, `the RPM is truncated: it ends inside its ${what} header`);
  if (h.readUIntBE(0, 3) !== HEADER_MAGIC) throw broken(file, `not an RPM: no ${what} header at byte ${pos}`);
  return 16 + h.readUInt32BE(8) * 16 + h.readUInt32BE(12);
}

export function rpmPayload(file: string): Range {
  const size = fs.statSync(file).size;
  const sig = headerSize(file, LEAD, 'signature');
  const main = LEAD + sig + ((8 - (sig % 8)) % 8);
  const offset = main + headerSize(file, main, 'main');
  if (offset >= size) throw broken(file, 'the RPM is truncated: it ends before its payload');
  return { name: 'payload', offset, size: size - offset };
}
