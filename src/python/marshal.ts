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
  return new MarshalReader(data, minor, offset).read(0);
}

/** Where a value's bytes are in the stream: [start, end), its first byte the type code. */
export type Span = readonly [number, number];

/**
 * The spans of the string objects that code objects name as co_filename: each written once, where marshal
 * wrote it whole (later code objects refer to it by FLAG_REF index, which a rewrite keeps valid).
 */
export function filenameSpans(data: Uint8Array, minor: number, offset = 0): Span[] {
  const r = new MarshalReader(data, minor, offset, true);
  r.read(0);
  return r.filenames();
}

/** Thrown by a reader told to stop at the first co_filename, with it (not a failure: a way out). */
class FirstFilename extends Error {
  constructor(readonly filename: string) {
    super('first co_filename found');
  }
}

/**
 * The file name of the first code object marshal wrote whole (the innermost first: the module's first
 * function, usually within the first kilobytes), reading no further; undefined when there is no code.
 */
export function firstFilename(data: Uint8Array, minor: number, offset = 0): string | undefined {
  try {
    new MarshalReader(data, minor, offset, false, true).read(0);
    return undefined;
  } catch (e) {
    if (e instanceof FirstFilename) return e.filename;
    throw e;
  }
}

/** The reader's position and back-references (FLAG_REF), and one method per part of the format. */
class MarshalReader {
  private readonly b: Buffer;
  private readonly refs: MarshalValue[] = [];
  /** Only when tracking file names: each reference's span, and the spans named as co_filename. */
  private readonly refSpans: Span[] = [];
  private readonly filenameAt = new Map<number, Span>();

  constructor(
    data: Uint8Array,
    private readonly minor: number,
    private pos: number,
    private readonly tracking = false,
    private readonly stopAtFilename = false,
  ) {
    this.b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  filenames(): Span[] {
    return [...this.filenameAt.values()].sort((a, b) => a[0] - b[0]);
  }

  /** co_filename read at `start`: the string itself, or the one its reference points to. */
  private noteFilename(start: number): void {
    const type = this.b[start]! & ~FLAG_REF;
    const span: Span | undefined =
      type === 0x72 ? this.refSpans[this.b.readUInt32LE(start + 1)] : [start, this.pos];
    if (span === undefined) throw new MarshalError('co_filename refers to an untracked value', start);
    this.filenameAt.set(span[0], span);
  }

  private need(n: number): void {
    if (this.pos + n > this.b.length) throw new MarshalError('truncated marshal data', this.pos);
  }

  private u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }

  private i32(): number {
    this.need(4);
    const v = this.b.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  private double(): number {
    this.need(8);
    const v = this.b.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  private bytes(n: number): Uint8Array {
    if (n < 0) throw new MarshalError('negative length', this.pos);
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  private latin1(n: number): string {
    return Buffer.from(this.bytes(n)).toString('latin1');
  }

  private str(v: MarshalValue, what: string): string {
    if (typeof v === 'string') return v;
    if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1');
    throw new MarshalError(`${what} is not a string`, this.pos);
  }

  private strings(v: MarshalValue, what: string): string[] {
    if (typeof v === 'object' && v !== null && 'items' in v) return v.items.map((x) => this.str(x, what));
    throw new MarshalError(`${what} is not a tuple`, this.pos);
  }

  read(depth: number): MarshalValue {
    if (depth > 2000) throw new MarshalError('nesting too deep', this.pos);
    const start = this.pos;
    const code = this.u8();
    const type = String.fromCharCode(code & ~FLAG_REF);
    const idx = (code & FLAG_REF) !== 0 ? this.refs.push(undefined) - 1 : -1;
    // Called after a scalar's bytes (so the span is whole), before a container's items.
    const done = <T extends MarshalValue>(v: T): T => {
      if (idx !== -1) {
        this.refs[idx] = v;
        if (this.tracking) this.refSpans[idx] = [start, this.pos];
      }
      return v;
    };
    switch (type) {
      case '0':
        return undefined;
      case ')':
      case '(':
      case '[':
      case '<':
      case '>':
        return this.sequence(type, depth, done);
      case '{':
        return this.dict(depth, done);
      case ':': {
        // 3.14 slices: start, stop, step.
        const v = done({ kind: 'slice' as const, items: [] as MarshalValue[] });
        for (let k = 0; k < 3; k++) v.items.push(this.read(depth + 1));
        return v;
      }
      case 'r':
        return this.ref();
      case 'c':
        return done(this.code(depth));
      default:
        return done(this.scalar(type, code));
    }
  }

  /** A value that holds no other: singletons, numbers, strings and bytes. */
  private scalar(type: string, code: number): MarshalValue {
    switch (type) {
      case 'N':
        return null;
      case 'F':
        return false;
      case 'T':
        return true;
      case 'S':
        return undefined;
      case '.':
        return { kind: 'ellipsis' };
      case 'i':
        return this.i32();
      case 'I': {
        this.need(8);
        const v = this.b.readBigInt64LE(this.pos);
        this.pos += 8;
        return v;
      }
      case 'l':
        return this.long();
      case 'f':
        return Number(this.latin1(this.u8()));
      case 'g':
        return this.double();
      case 'x': {
        const real = Number(this.latin1(this.u8()));
        return { kind: 'complex', real, imag: Number(this.latin1(this.u8())) };
      }
      case 'y': {
        this.need(16);
        const real = this.double();
        return { kind: 'complex', real, imag: this.double() };
      }
      case 's':
        return this.bytes(this.i32());
      case 't':
      case 'u':
        return Buffer.from(this.bytes(this.i32())).toString('utf8');
      case 'a':
      case 'A':
        return this.latin1(this.i32());
      case 'z':
      case 'Z':
        return this.latin1(this.u8());
      default:
        throw new MarshalError(`unknown marshal type 0x${code.toString(16)}`, this.pos - 1);
    }
  }

  /** Arbitrary-precision int: a signed digit count, then 15-bit digits, least significant first. */
  private long(): bigint {
    const n = this.i32();
    let v = 0n;
    for (let k = 0; k < Math.abs(n); k++) {
      this.need(2);
      v |= BigInt(this.b.readUInt16LE(this.pos)) << BigInt(15 * k);
      this.pos += 2;
    }
    return n < 0 ? -v : v;
  }

  /** A tuple (small or not), list, set or frozenset; registered before its items, which may refer to it. */
  private sequence(type: string, depth: number, done: <T extends MarshalValue>(v: T) => T): MarshalValue {
    const n = type === ')' ? this.u8() : this.i32();
    const kind = type === '[' ? 'list' : type === '<' ? 'set' : type === '>' ? 'frozenset' : 'tuple';
    const v = done({ kind, items: [] as MarshalValue[] });
    for (let k = 0; k < n; k++) v.items.push(this.read(depth + 1));
    return v;
  }

  private dict(depth: number, done: <T extends MarshalValue>(v: T) => T): MarshalValue {
    const v = done({ kind: 'dict' as const, entries: [] as Array<[MarshalValue, MarshalValue]> });
    for (;;) {
      const key = this.read(depth + 1);
      if (key === undefined) break;
      v.entries.push([key, this.read(depth + 1)]);
    }
    return v;
  }

  private ref(): MarshalValue {
    this.need(4);
    const n = this.b.readUInt32LE(this.pos);
    this.pos += 4;
    if (n >= this.refs.length) throw new MarshalError(`bad reference ${n}`, this.pos);
    return this.refs[n];
  }

  private code(depth: number): CodeObject {
    const minor = this.minor;
    const argcount = this.i32();
    const posonlyargcount = minor >= 8 ? this.i32() : 0;
    const kwonlyargcount = this.i32();
    if (minor < 11) this.i32(); // nlocals
    const stacksize = this.i32();
    const flags = this.i32();
    const next = (): MarshalValue => this.read(depth + 1);
    const codeBytes = next();
    const consts = next();
    const names = this.strings(next(), 'co_names');
    let localNames: string[];
    if (minor >= 11) {
      localNames = this.strings(next(), 'co_localsplusnames');
      next(); // co_localspluskinds
    } else {
      localNames = this.strings(next(), 'co_varnames');
      next(); // co_freevars
      next(); // co_cellvars
    }
    const filenameStart = this.pos;
    const filename = this.str(next(), 'co_filename');
    if (this.tracking) this.noteFilename(filenameStart);
    if (this.stopAtFilename) throw new FirstFilename(filename);
    const name = this.str(next(), 'co_name');
    const qualname = minor >= 11 ? this.str(next(), 'co_qualname') : name;
    const firstlineno = this.i32();
    next(); // co_lnotab / co_linetable
    if (minor >= 11) next(); // co_exceptiontable
    if (!(codeBytes instanceof Uint8Array)) throw new MarshalError('co_code is not bytes', this.pos);
    if (typeof consts !== 'object' || consts === null || !('items' in consts))
      throw new MarshalError('co_consts is not a tuple', this.pos);
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
  }
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
