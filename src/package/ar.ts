/**
 * A deb's payload: the `ar` archive's `data.tar[.gz|.xz|.zst]` member found by reading the 60-byte member
 * headers only, seeking over contents; its bytes are then streamed from their offset.
 */
import fs from 'node:fs';
import { broken } from './detect.js';

export interface Range {
  name: string;
  offset: number;
  size: number;
}

/** The members of an ar archive: name, offset and size of each (GNU names lose their trailing slash). */
export function arMembers(file: string): Range[] {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const out: Range[] = [];
    const h = Buffer.alloc(60);
    for (let pos = 8; pos < size;) {
      if (fs.readSync(fd, h, 0, 60, pos) !== 60) throw broken(file, 'the ar archive ends inside a header');
      if (h.toString('latin1', 58, 60) !== '`\n') throw broken(file, `bad ar member header at byte ${pos}`);
      const len = Number(h.toString('latin1', 48, 58).trim());
      const name = h.toString('latin1', 0, 16).trim().replace(/\/$/, '');
      if (!Number.isSafeInteger(len) || pos + 60 + len > size)
        throw broken(file, `ar member ${name} is truncated`);
      out.push({ name, offset: pos + 60, size: len });
      pos += 60 + len + (len % 2);
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

/** The deb's data.tar member. */
export function debPayload(file: string): Range {
  const members = arMembers(file);
  if (members[0]?.name !== 'debian-binary')
    throw broken(file, 'not a deb: debian-binary is not its first member');
  const data = members.find((m) => /^data\.tar(\.\w+)?$/.test(m.name));
  if (data === undefined) throw broken(file, 'the deb has no data.tar member');
  return data;
}
