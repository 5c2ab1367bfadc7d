/**
 * The archives of the zip layouts, written with yazl: each member deflated by zlib at level 6 (zipfile's and
 * the estimates' level), its time the file's mtime as a DOS date in local time (what zipfile writes and what
 * zipimport reads back with time.mktime), no extra fields and no data descriptors. So an archive is
 * 22 + the sum of 30 + 46 + 2 x name + deflated bytes per member, the size the estimates compute, and the
 * same files at the same times in the same timezone give the same bytes (its SHA-256 goes into the plan).
 * Pure: builds bytes in memory, writes nothing.
 */
import { ZipFile } from 'yazl';
import { DEFLATE_LEVEL } from '../strategies/context.js';

export interface ZipInput {
  /** Name in the archive ('pkg/mod.py'). */
  name: string;
  data: Uint8Array;
  mtime: Date;
  mode: number;
}

export function buildZip(members: readonly ZipInput[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const zip = new ZipFile();
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (b: Buffer) => chunks.push(b));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    for (const m of members) {
      zip.addBuffer(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), m.name, {
        mtime: m.mtime,
        mode: m.mode,
        compressionLevel: DEFLATE_LEVEL,
        // Why: the Info-ZIP timestamp field would add 9 bytes per member that zipimport never reads.
        forceDosTimestamp: true,
      });
    }
    zip.end();
  });
}
