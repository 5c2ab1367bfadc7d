/**
 * Bytecode relocated: a .pyc whose code objects name another file. When a layout moves bytecode away from
 * its source (`mod.pyc` in place of `mod.py`, members of `pythonXY.zip`), the code objects still name the
 * path the bytecode was compiled at (often a build root or an install that is not there any more), and no
 * loader but the source loader fixes that (`_imp._fix_co_filename`). Tracebacks, `linecache`, `inspect`,
 * `warnings` and `importlib.resources` look files up by that name.
 *
 * marshal writes the file name once per module (one string object shared by every code object; later ones
 * are FLAG_REF references to it, by index), so renaming it is rewriting that one string object: references
 * are indices, not offsets, and stay valid. The new string is encoded as CPython's marshal would encode it
 * (short or long, ASCII or UTF-8, keeping whether it was interned), so the result is what compiling with
 * that `dfile` writes, without an interpreter and deterministically (a plan's hash holds at apply).
 */
import { filenameSpans, type Span } from './marshal.js';
import { parsePycHeader } from './pyc.js';

const FLAG_REF = 0x80;
const INTERNED = new Set(['Z', 'A', 't']);

export class RelocateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelocateError';
  }
}

/** The .pyc `data` with every code object's co_filename set to `filename`. Header unchanged. */
export function relocatePyc(data: Uint8Array, filename: string): Buffer {
  const header = parsePycHeader(data);
  const [major, minor] = header.magic.version.split('.').map(Number);
  if (major !== 3 || minor! < 4)
    throw new RelocateError(`cannot relocate Python ${header.magic.version} bytecode`);
  const spans = filenameSpans(data, minor!, header.headerSize);
  return splice(Buffer.from(data.buffer, data.byteOffset, data.byteLength), spans, filename);
}

/** The size `relocatePyc` will give, knowing the old file name: for estimates that read no bytecode. */
export function relocatedSize(size: number, oldName: string, newName: string): number {
  return size + encodedLength(newName) - encodedLength(oldName);
}

function splice(b: Buffer, spans: Span[], filename: string): Buffer {
  if (spans.length === 0) throw new RelocateError('no code object names a file');
  const parts: Buffer[] = [];
  let at = 0;
  for (const [start, end] of spans) {
    parts.push(b.subarray(at, start), encodeString(b[start]!, filename));
    at = end;
  }
  parts.push(b.subarray(at));
  return Buffer.concat(parts);
}

/** A str as marshal (version 4) writes it, with the old type code's FLAG_REF and interned-ness. */
function encodeString(oldCode: number, s: string): Buffer {
  const interned = INTERNED.has(String.fromCharCode(oldCode & ~FLAG_REF));
  const flag = oldCode & FLAG_REF;
  // eslint-disable-next-line no-control-regex
  const ascii = /^[\x00-\x7f]*$/.test(s);
  const bytes = Buffer.from(s, ascii ? 'latin1' : 'utf8');
  if (ascii && bytes.length < 256)
    return Buffer.concat([Buffer.from([code(interned ? 'Z' : 'z', flag), bytes.length]), bytes]);
  const head = Buffer.alloc(5);
  head[0] = code(ascii ? (interned ? 'A' : 'a') : interned ? 't' : 'u', flag);
  head.writeUInt32LE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

function code(type: string, flag: number): number {
  return type.charCodeAt(0) | flag;
}

/** What encodeString writes for `s` (the type code's flags change no length). */
function encodedLength(s: string): number {
  return encodeString(0x7a, s).length;
}
