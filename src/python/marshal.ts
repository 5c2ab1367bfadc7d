/**
 * A reader for CPython's marshal format, enough to walk the code objects of a .pyc (3.6 to 3.14): every value
 * type marshal writes, back-references (FLAG_REF / TYPE_REF), and the code object layouts of 3.6-3.7,
 * 3.8-3.10 and 3.11+. Reference: Python/marshal.c (r_object) and Objects/codeobject.c of each release.
 * Pure: bytes in, plain values out; never executes anything.
 */

export interface CodeObject {
  kind: 'code';
  argcount: number;
  posonlyargcount: number;
  kwonlyargcount: number;
  stacksize: number;
  flags: number;
  code: Uint8Array;
  consts: MarshalValue[];
  names: string[];
  /** co_varnames before 3.11, co_localsplusnames from 3.11. */
  localNames: string[];
  filename: string;
  name: string;
  /** co_qualname (3.11+), else the name. */
  qualname: string;
  firstlineno: number;
}

export type MarshalValue =
  | null
  | undefined // StopIteration / NULL
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | { kind: 'ellipsis' }
  | { kind: 'complex'; real: number; imag: number }
  | { kind: 'tuple' | 'list' | 'set' | 'frozenset'; items: MarshalValue[] }
  | { kind: 'dict'; entries: Array<[MarshalValue, MarshalValue]> }
  | { kind: 'slice'; items: MarshalValue[] }
  | CodeObject;

export class MarshalError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
    this.name = 'MarshalError';
  }
}

const FLAG_REF = 0x80;

/**
 * Read one marshalled value from `data` at `offset` (16 after a 3.7+ pyc header), for the code layout of
 * Python `minor` (3.x).
 */
export function readMarshal(data: Uint8Array, minor: number, offset = 0): MarshalValue {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const refs: MarshalValue[] = [];
  let pos = offset;
  const need = (n: number): void => {
    if (pos + n > b.length) throw new MarshalError('truncated marshal data', pos);
  };
  const u8 = (): number => {
    need(1);
    return b[pos++]!;
  };
  const i32 = (): number => {
    need(4);
    const v = b.readInt32LE(pos);
    pos += 4;
    return v;
  };
  const bytes = (n: number): Uint8Array => {
    if (n < 0) throw new MarshalError('negative length', pos);
    need(n);
    const v = b.subarray(pos, pos + n);
    pos += n;
    return v;
  };
  const str = (v: MarshalValue, what: string): string => {
    if (typeof v === 'string') return v;
    if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1');
    throw new MarshalError(`${what} is not a string`, pos);
  };
  const strings = (v: MarshalValue, what: string): string[] => {
    if (typeof v === 'object' && v !== null && 'items' in v) return v.items.map((x) => str(x, what));
    throw new MarshalError(`${what} is not a tuple`, pos);
  };

  const read = (depth: number): MarshalValue => {
    if (depth > 2000) throw new MarshalError('nesting too deep', pos);
    const code = u8();
    const type = String.fromCharCode(code & ~FLAG_REF);
    const idx = (code & FLAG_REF) !== 0 ? refs.push(undefined) - 1 : -1;
    const done = <T extends MarshalValue>(v: T): T => {
      if (idx !== -1) refs[idx] = v;
      return v;
    };
    switch (type) {
      case '0':
        return undefined;
      case 'N':
        return done(null);
      case 'F':
        return done(false);
      case 'T':
        return done(true);
      case 'S':
        return done(undefined);
      case '.':
        return done({ kind: 'ellipsis' });
      case 'i':
        return done(i32());
      case 'I': {
        need(8);
        const v = b.readBigInt64LE(pos);
        pos += 8;
        return done(v);
      }
      case 'l': {
        // Arbitrary-precision int: a signed digit count, then 15-bit digits, least significant first.
        const n = i32();
        let v = 0n;
        for (let k = 0; k < Math.abs(n); k++) {
          need(2);
          v |= BigInt(b.readUInt16LE(pos)) << BigInt(15 * k);
          pos += 2;
        }
        return done(n < 0 ? -v : v);
      }
      case 'f':
        return done(Number(Buffer.from(bytes(u8())).toString('latin1')));
      case 'g': {
        need(8);
        const v = b.readDoubleLE(pos);
        pos += 8;
        return done(v);
      }
      case 'x': {
        const real = Number(Buffer.from(bytes(u8())).toString('latin1'));
        const imag = Number(Buffer.from(bytes(u8())).toString('latin1'));
        return done({ kind: 'complex', real, imag });
      }
      case 'y': {
        need(16);
        const v = { kind: 'complex' as const, real: b.readDoubleLE(pos), imag: b.readDoubleLE(pos + 8) };
        pos += 16;
        return done(v);
      }
      case 's':
        return done(bytes(i32()));
      case 't':
      case 'u':
        return done(Buffer.from(bytes(i32())).toString('utf8'));
      case 'a':
      case 'A':
        return done(Buffer.from(bytes(i32())).toString('latin1'));
      case 'z':
      case 'Z':
        return done(Buffer.from(bytes(u8())).toString('latin1'));
      case ')':
      case '(':
      case '[':
      case '<':
      case '>': {
        const n = type === ')' ? u8() : i32();
        const kind = type === '[' ? 'list' : type === '<' ? 'set' : type === '>' ? 'frozenset' : 'tuple';
        const v = done({ kind, items: [] as MarshalValue[] });
        for (let k = 0; k < n; k++) v.items.push(read(depth + 1));
        return v;
      }
      case '{': {
        const v = done({ kind: 'dict' as const, entries: [] as Array<[MarshalValue, MarshalValue]> });
        for (;;) {
          const key = read(depth + 1);
          if (key === undefined) break;
          v.entries.push([key, read(depth + 1)]);
        }
        return v;
      }
      case ':': {
        // 3.14 slices: start, stop, step.
        const v = done({ kind: 'slice' as const, items: [] as MarshalValue[] });
        for (let k = 0; k < 3; k++) v.items.push(read(depth + 1));
        return v;
      }
      case 'r': {
        need(4);
        const n = b.readUInt32LE(pos);
        pos += 4;
        if (n >= refs.length) throw new MarshalError(`bad reference ${n}`, pos);
        return refs[n];
      }
      case 'c':
        return done(readCode(depth));
      default:
        throw new MarshalError(`unknown marshal type 0x${code.toString(16)}`, pos - 1);
    }
  };

  const readCode = (depth: number): CodeObject => {
    const argcount = i32();
    const posonlyargcount = minor >= 8 ? i32() : 0;
    const kwonlyargcount = i32();
    if (minor < 11) i32(); // nlocals
    const stacksize = i32();
    const flags = i32();
    const codeBytes = read(depth + 1);
    const consts = read(depth + 1);
    const names = strings(read(depth + 1), 'co_names');
    let localNames: string[];
    if (minor >= 11) {
      localNames = strings(read(depth + 1), 'co_localsplusnames');
      read(depth + 1); // co_localspluskinds
    } else {
      localNames = strings(read(depth + 1), 'co_varnames');
      read(depth + 1); // co_freevars
      read(depth + 1); // co_cellvars
    }
    const filename = str(read(depth + 1), 'co_filename');
    const name = str(read(depth + 1), 'co_name');
    const qualname = minor >= 11 ? str(read(depth + 1), 'co_qualname') : name;
    const firstlineno = i32();
    read(depth + 1); // co_lnotab / co_linetable
    if (minor >= 11) read(depth + 1); // co_exceptiontable
    if (!(codeBytes instanceof Uint8Array)) throw new MarshalError('co_code is not bytes', pos);
    if (typeof consts !== 'object' || consts === null || !('items' in consts))
      throw new MarshalError('co_consts is not a tuple', pos);
    return {
      kind: 'code',
      argcount,
      posonlyargcount,
      kwonlyargcount,
      stacksize,
      flags,
      code: codeBytes,
      consts: consts.items,
      names,
      localNames,
      filename,
      name,
      qualname,
      firstlineno,
    };
  };

  return read(0);
}

export function isCode(v: MarshalValue): v is CodeObject {
  return typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'code';
}

/** Every code object in a value, depth first, the outermost first (as co_consts nest them). */
export function codeObjects(v: MarshalValue): CodeObject[] {
  const out: CodeObject[] = [];
  const walk = (x: MarshalValue): void => {
    if (isCode(x)) {
      out.push(x);
      for (const c of x.consts) walk(c);
    } else if (typeof x === 'object' && x !== null && 'items' in x) for (const c of x.items) walk(c);
  };
  walk(v);
  return out;
}
