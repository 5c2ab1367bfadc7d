/**
 * `parsePlan()`: a plan read from a file is checked whole before anything uses it, since a plan is
 * reviewable JSON that a person (or a script) may have edited: the top-level fields apply relies on, known
 * operations only, every field each operation needs with its type (the fingerprints `plan` writes), links
 * only between files whose recorded SHA-256 are equal, plain relative paths inside the root (but a stdlib
 * root's `../pythonXY.zip`), and no path named by two operations in a way that conflicts. Every refusal is
 * one `EUSAGE` error naming the operation by its index.
 */
import path from 'node:path';
import { PyfloppyError } from '../errors.js';
import { PLAN_SCHEMA, type Plan, type PlanOperation } from './plan.js';
import { madeFrom, sha256 } from './files.js';

const OPS = ['remove', 'link', 'move', 'write', 'replace', 'zip', 'mkdir', 'rmdir'] as const;
const HINT = 'make a new plan with `pyfloppy plan STRATEGY PATH -o plan.json` rather than editing one';
const SHA256 = /^[0-9a-f]{64}$/;
const DECIMAL = /^\d+$/;

/** The one path outside the root a plan may name: a stdlib root's archive. */
const PARENT_ZIP = /^\.\.\/python\d+t?\.zip$/;

type Json = Record<string, unknown>;

/** A refusal of the plan file: one line naming what is wrong, exit 2. */
function refuse(file: string, what: string): PyfloppyError {
  return new PyfloppyError('EUSAGE', `${file}: ${what}`, { hint: HINT });
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validate a plan read from a file (the shape apply relies on), or throw a usage error naming the problem. */
export function parsePlan(text: string, file: string): Plan {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new PyfloppyError('EUSAGE', `${file}: not JSON (${(e as Error).message})`);
  }
  const p = isObject(data) ? data : {};
  if (p.schema !== PLAN_SCHEMA)
    throw new PyfloppyError('EUSAGE', `${file}: not a pyfloppy plan (schema ${String(p.schema)})`, {
      hint: 'make one with `pyfloppy plan STRATEGY PATH -o plan.json`',
    });
  if (typeof p.root !== 'string' || !path.isAbsolute(p.root) || !Array.isArray(p.operations))
    throw refuse(file, 'the plan has no absolute root or no operations');
  checkTop(p, file);
  const ops = p.operations as unknown[];
  ops.forEach((o, n) => checkOperation(o, n, file));
  checkConflicts(ops as PlanOperation[], file);
  return p as unknown as Plan;
}

/** The top-level fields apply and verify read. */
function checkTop(p: Json, file: string): void {
  const bad = (field: string, type: string): never => {
    throw refuse(file, `the plan's ${field} is not ${type}`);
  };
  const fp = p.rootFp;
  if (!isObject(fp) || !isDecimal(fp.dev) || !isDecimal(fp.ino))
    bad('rootFp', '{dev, ino} as decimal strings');
  const strings = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string');
  if (!strings(p.strategies)) bad('strategies', 'a list of strategy ids');
  if (!strings(p.removedModules)) bad('removedModules', 'a list of module names');
  if (!Array.isArray(p.shippedLevels) || !p.shippedLevels.every((l) => l === 0 || l === 1 || l === 2))
    bad('shippedLevels', 'a list of optimization levels (0, 1, 2)');
  if (p.notes !== undefined && !strings(p.notes)) bad('notes', 'a list of strings');
  if (!isBytes(p.saved)) bad('saved', '{apparentBytes, allocatedBytes}');
}

const isDecimal = (v: unknown): boolean => typeof v === 'string' && DECIMAL.test(v);
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isBytes = (v: unknown): boolean =>
  isObject(v) && Number.isFinite(v.apparentBytes) && Number.isFinite(v.allocatedBytes);

/** Why a fingerprint is malformed, or undefined: dev/ino/mtimeNs/ctimeNs decimal strings, size, sha256. */
function fingerprintProblem(v: unknown, sha: 'required' | 'optional' | 'none'): string | undefined {
  if (!isObject(v)) return 'missing';
  for (const k of ['dev', 'ino', 'mtimeNs', 'ctimeNs'])
    if (!isDecimal(v[k])) return `its ${k} is not a decimal string`;
  if (!isCount(v.size)) return 'its size is not a byte count';
  if (v.sha256 === undefined) return sha === 'required' ? 'it has no sha256' : undefined;
  if (sha === 'none') return 'a directory has no sha256';
  return typeof v.sha256 === 'string' && SHA256.test(v.sha256)
    ? undefined
    : 'its sha256 is not 64 hex digits';
}

/** One operation: known, its paths plain and inside the root, its fields typed, a link's hashes equal. */
function checkOperation(raw: unknown, n: number, file: string): void {
  if (!isObject(raw)) throw refuse(file, `operation ${n} is not an object`);
  const op = raw.op;
  if (!(OPS as readonly unknown[]).includes(op))
    throw refuse(file, `operation ${n}: unknown operation '${String(op)}' (known: ${OPS.join(', ')})`);
  const o = raw as unknown as PlanOperation;
  const at = `operation ${n} (${o.op})`;
  checkPaths(o, at, file);
  const problem = fieldProblem(o);
  if (problem !== undefined) throw refuse(file, `${at}: ${problem}`);
  if (o.op === 'link') {
    if (o.path === o.target) throw refuse(file, `${at}: ${o.path} is linked to itself`);
    const a = o.fp.sha256;
    const b = o.targetFp.sha256;
    if (a !== b)
      throw refuse(
        file,
        `${at}: ${o.path} and ${o.target} differ (sha256 ${a} vs ${b}): a link needs equal files`,
      );
  }
}

/** Empty, absolute, or with an empty, `.` or `..` component. */
const NOT_PLAIN = /^$|^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/** Every path an operation names is a string, relative, normalized (no `.`, `..`, empty or absolute). */
function checkPaths(o: PlanOperation, at: string, file: string): void {
  const x = o as unknown as Json;
  if (o.op === 'zip' && !Array.isArray(x.members)) throw refuse(file, `${at}: members is not a list`);
  if (o.op === 'zip' && !(x.members as unknown[]).every(isObject))
    throw refuse(file, `${at}: a member is not an object`);
  if ((o.op === 'write' || o.op === 'replace') && !isObject(x.content))
    throw refuse(file, `${at}: content is missing`);
  for (const rel of relPaths(o) as unknown[]) {
    if (o.op === 'zip' && rel === o.path && typeof rel === 'string' && PARENT_ZIP.test(rel)) continue;
    if (typeof rel !== 'string' || NOT_PLAIN.test(rel))
      throw refuse(file, `operation path '${String(rel)}' is not a plain relative path`);
  }
}

/** What is wrong with an operation's fields (the ones `plan` writes), or undefined. */
function fieldProblem(o: PlanOperation): string | undefined {
  const x = o as unknown as Json;
  const fp = (key: string, v: unknown, sha: 'required' | 'optional' | 'none'): string | undefined => {
    const why = fingerprintProblem(v, sha);
    return why === undefined
      ? undefined
      : `${key} ${why === 'missing' ? 'is missing' : `is malformed: ${why}`}`;
  };
  const mode = isCount(x.mode) && (x.mode as number) <= 0o7777 ? undefined : 'mode is not a permission mode';
  const frees = isBytes(x.frees) ? undefined : 'frees is not {apparentBytes, allocatedBytes}';
  switch (o.op) {
    case 'remove':
      return fp('fp', o.fp, 'optional') ?? frees;
    case 'rmdir':
      return fp('fp', o.fp, 'none') ?? frees;
    case 'link':
      return fp('fp', o.fp, 'required') ?? fp('targetFp', o.targetFp, 'required') ?? frees;
    case 'move':
      return fp('fp', o.fp, 'optional');
    case 'mkdir':
      return mode;
    case 'write':
      return (
        mode ??
        (isCount(o.size) ? undefined : 'size is not a byte count') ??
        contentProblem(o.content, fp) ??
        inlineProblem(o.content, o.size)
      );
    case 'replace':
      return (
        fp('fp', o.fp, 'required') ??
        mode ??
        (isCount(o.size) ? undefined : 'size is not a byte count') ??
        (typeof o.content.inline === 'string' ? undefined : 'content is not {inline, sha256}') ??
        inlineProblem(o.content, o.size)
      );
    case 'zip':
      return zipProblem(o, mode, fp);
  }
}

function contentProblem(
  c: unknown,
  fp: (key: string, v: unknown, sha: 'required') => string | undefined,
): string | undefined {
  if (isObject(c) && c.empty === true && c.gzipOf === undefined) return undefined;
  if (isObject(c) && typeof c.gzipOf === 'string') return fp('content.fp', c.fp, 'required');
  if (isObject(c) && typeof c.relocateOf === 'string')
    return typeof c.filename === 'string' && c.filename.startsWith('/')
      ? fp('content.fp', c.fp, 'required')
      : 'content.filename is not an absolute path';
  if (isObject(c) && typeof c.inline === 'string') return undefined;
  return 'content is neither {empty: true}, {gzipOf, fp}, {relocateOf, fp, filename} nor {inline, sha256}';
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Carried bytes: canonical base64 of `size` bytes whose SHA-256 is the one recorded. */
function inlineProblem(c: unknown, size: number): string | undefined {
  if (!isObject(c) || typeof c.inline !== 'string') return undefined;
  if (!BASE64.test(c.inline) || c.inline.length % 4 !== 0) return 'content.inline is not base64';
  const data = Buffer.from(c.inline, 'base64');
  if (data.length !== size) return `content.inline holds ${data.length} bytes, size says ${size}`;
  if (typeof c.sha256 !== 'string' || sha256(data) !== c.sha256)
    return 'content.inline does not match content.sha256';
  return undefined;
}

function zipProblem(
  o: Extract<PlanOperation, { op: 'zip' }>,
  mode: string | undefined,
  fp: (key: string, v: unknown, sha: 'required') => string | undefined,
): string | undefined {
  if (mode !== undefined) return mode;
  if (!isCount(o.size)) return 'size is not a byte count';
  if (typeof o.sha256 !== 'string' || !SHA256.test(o.sha256)) return 'sha256 is not 64 hex digits';
  const names = new Set<string>();
  for (const [j, m] of o.members.entries()) {
    if (typeof m.name !== 'string' || m.name === '') return `member ${j} has no name`;
    if (names.has(m.name)) return `member name ${m.name} appears twice`;
    names.add(m.name);
    const f = (m as { filename?: unknown }).filename;
    if (f !== undefined && (typeof f !== 'string' || !f.startsWith('/')))
      return `member ${j} (${m.from}) filename is not an absolute path`;
    const why = fp(`member ${j} (${m.from}) fp`, m.fp, 'required');
    if (why !== undefined) return why;
  }
  return undefined;
}

/** How an operation names a path: it takes the name away, makes it, or reads the file there. */
type Role = 'consumes' | 'creates' | 'reads';

function roles(o: PlanOperation): Array<[string, Role]> {
  switch (o.op) {
    case 'remove':
    case 'rmdir':
    case 'replace':
      return [[o.path, 'consumes']];
    case 'link':
      return [
        [o.target, 'reads'],
        [o.path, 'consumes'],
      ];
    case 'move':
      return [
        [o.from, 'consumes'],
        [o.to, 'creates'],
      ];
    case 'write': {
      const from = madeFrom(o.content);
      return from === undefined
        ? [[o.path, 'creates']]
        : [
            [from.from, 'reads'],
            [o.path, 'creates'],
          ];
    }
    case 'zip':
      return [...o.members.map((m): [string, Role] => [m.from, 'reads']), [o.path, 'creates']];
    case 'mkdir':
      return [[o.path, 'creates']];
  }
}

/**
 * No path named in a conflicting way. A path is taken away or made by at most one operation; a file may be
 * read by several (a link target several levels link to, a zip member or a gzipped source later removed),
 * but only before it is taken away and never when the plan makes it (apply checks what it reads on disk,
 * as planned); nothing is named below a directory after its `rmdir`.
 */
function checkConflicts(ops: PlanOperation[], file: string): void {
  const changed = new Map<string, number>();
  const read = new Set<string>();
  const rmdirs = new Map<string, number>();
  ops.forEach((o, n) => {
    for (const [rel, role] of roles(o)) {
      const before = changed.get(rel);
      if (before !== undefined || (role === 'creates' && read.has(rel)))
        throw refuse(
          file,
          `operation ${n} (${o.op}) names ${rel}, which ${before === undefined ? 'an earlier operation reads: it exists' : `operation ${before} (${ops[before]!.op}) already changed`}`,
        );
      // Why slices, not path.posix.dirname: this runs for every ancestor of every path of a large plan.
      for (let i = rmdirs.size === 0 ? -1 : rel.lastIndexOf('/'); i > 0; i = rel.lastIndexOf('/', i - 1)) {
        const d = rel.slice(0, i);
        const r = rmdirs.get(d);
        if (r !== undefined)
          throw refuse(
            file,
            `operation ${n} (${o.op}) names ${rel}, inside ${d} which operation ${r} removed`,
          );
      }
      if (role === 'reads') read.add(rel);
      else changed.set(rel, n);
    }
    if (o.op === 'rmdir') rmdirs.set(o.path, n);
  });
}

export function relPaths(o: PlanOperation): string[] {
  switch (o.op) {
    case 'link':
      return [o.path, o.target];
    case 'move':
      return [o.from, o.to];
    case 'write': {
      const from = madeFrom(o.content);
      return from === undefined ? [o.path] : [o.path, from.from];
    }
    case 'zip':
      return [o.path, ...o.members.map((m) => m.from)];
    default:
      return [o.path];
  }
}
