/**
 * The facts a layout asks about, answered by reading the tree: which entries a plan can name, whether a
 * level-0 cache is fresh (`inspectPyc`), whether a name exists, where the stdlib archive goes, and which
 * directories the plan cannot know whole (with a note for each kind).
 */
import fs from 'node:fs';
import path from 'node:path';
import { inspectPyc } from '../check/inspect.js';
import type { Model } from '../model/model.js';
import { stdlibRoot } from '../python/stdlib.js';
import { pathOf, TYPE_DIR } from '../scan/table.js';
import type { EstimateContext } from '../strategies/context.js';
import type { Facts, Place } from '../strategies/strategy.js';
import { planRuntime, type RuntimeOptions } from './runtime.js';
import { stdlibArchiveBelow } from '../strategies/zip.js';

/** Entries whose names are not valid UTF-8 cannot be written into a JSON plan: they are left alone. */
function utf8Name(model: Model, i: number): boolean {
  for (let j = i; j !== -1; j = model.scan.table.parent[j]!) {
    if (typeof model.scan.table.name[j] !== 'string') return false;
  }
  return true;
}

export function treeFacts(
  ctx: EstimateContext,
  model: Model,
  root: string,
  cacheTag: string | null,
  dest = root,
  runtime: RuntimeOptions = {},
): Facts {
  const t = model.scan.table;
  const rootEntry = model.scan.roots[0]!.entry;
  const plannable = (i: number): boolean => utf8Name(model, i) && t.dev[i] === t.dev[rootEntry];
  const abs = (i: number): string => pathOf(t, i) as string;
  const rel = (at: Place): string => {
    const dir = t.relativePath(at.dir);
    return dir === '' ? at.name : `${dir}/${at.name}`;
  };
  return {
    ctx,
    cacheTag,
    dest,
    plannable,
    fresh: (cache, source) => fresh(abs(cache), abs(source)),
    zipFresh: (cache, source) => zipFresh(abs(cache), abs(source)),
    exists: (at) => fs.existsSync(path.join(root, rel(at))),
    archive: () => stdlibZip(root, t.dev[rootEntry]!, stdlibArchiveBelow(ctx)),
    pinned: (notes) => unplannable(model, root, plannable, notes),
    runtime: planRuntime(root, dest, runtime),
  };
}

/** Whether a level-0 cache is fresh against its source as importlib checks it (timestamp and size, or hash). */
function fresh(cache: string, source: string): boolean {
  const i = inspectPyc(cache, source);
  return (
    i.ok &&
    i.source.state === 'regular' &&
    (i.invalidation === 'timestamp'
      ? i.mtime === i.source.mtime && i.sourceSize === i.source.size
      : i.source.hashMatches === true)
  );
}

/**
 * Whether zipimport will use this level-0 cache: fresh against its source (timestamp and size, or hash),
 * and the source's time representable as a DOS date (1980-2107, local time; yazl clamps others, and
 * zipimport would then find the cache stale).
 */
function zipFresh(cache: string, source: string): boolean {
  const i = inspectPyc(cache, source);
  if (!i.ok || i.source.state !== 'regular') return false;
  if (i.invalidation !== 'timestamp') return i.source.hashMatches === true;
  const year = new Date(i.source.mtime * 1000).getFullYear();
  return i.mtime === i.source.mtime && i.sourceSize === i.source.size && year >= 1980 && year <= 2107;
}

/**
 * Where a stdlib root's archive goes: `pythonXY.zip` beside the `pythonX.Y` directory (PREFIX/lib), which
 * getpath puts on sys.path before the directory itself; on the root's device, as the journal links it there.
 */
export function stdlibZip(root: string, rootDev: number, below?: string): { rel: string } | { why: string } {
  const rel = stdlibRoot(root)?.archive ?? below;
  if (rel === undefined)
    return {
      why: 'needs a stdlib root (a pythonX.Y directory with os.py): only the pythonXY.zip beside it is on sys.path',
    };
  const abs = path.join(root, rel);
  if (fs.lstatSync(abs, { throwIfNoEntry: false }) !== undefined)
    return { why: `${abs} exists: pyfloppy does not add to an existing archive` };
  if (fs.statSync(path.dirname(abs)).dev !== rootDev)
    return { why: `${path.dirname(abs)} is on another file system than the root` };
  return { rel };
}

/** At most this many paths named in a note; the rest are counted. */
const NOTE_PATHS = 10;

function listed(paths: string[]): string {
  const more = paths.length - NOTE_PATHS;
  // A path past PATH_MAX is over 4 KB: its start and end say where it is.
  const short = (p: string): string => (p.length <= 240 ? p : `${p.slice(0, 120)}...${p.slice(-120)}`);
  return [...paths].sort().slice(0, NOTE_PATHS).map(short).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/**
 * Directories whose content the plan cannot know whole or cannot name, with a note for each kind: those the
 * scan could not read (or that hold an entry it could not lstat: a path longer than PATH_MAX, 4096 bytes,
 * fails with ENAMETOOLONG), and those holding a name that is not UTF-8 (a plan is JSON: its strings cannot
 * carry such a name) or a mount of another file system. None of them may be planned as emptied.
 */
function unplannable(
  model: Model,
  root: string,
  plannable: (i: number) => boolean,
  notes: string[],
): number[] {
  const t = model.scan.table;
  const dirs = new Map<string, number>();
  const pinned: number[] = [];
  const notUtf8: string[] = [];
  for (let i = 0; i < t.count; i++) {
    if (t.type[i] === TYPE_DIR) {
      dirs.set(t.displayPath(i), i);
      if (!plannable(i)) pinned.push(i);
    }
    const p = t.parent[i]!;
    if (typeof t.name[i] !== 'string' && p !== -1 && utf8Name(model, p)) notUtf8.push(t.relativePath(i));
  }
  const byWhy = new Map<string, string[]>();
  for (const pr of model.scan.problems) {
    // The problem is the directory itself (not read) or an entry in it (not lstat'ed).
    const d = dirs.get(pr.path) ?? dirs.get(path.dirname(pr.path));
    if (d !== undefined) pinned.push(d);
    const why = pr.code === 'ENAMETOOLONG' ? 'longer than PATH_MAX (4096 bytes)' : pr.message;
    const rel = pr.path.startsWith(`${root}/`) ? pr.path.slice(root.length + 1) : pr.path;
    byWhy.set(why, [...(byWhy.get(why) ?? []), rel]);
  }
  for (const [why, paths] of byWhy)
    notes.push(
      `not read (${why}): nothing in them is planned, and the directories holding them stay: ${listed(paths)}`,
    );
  if (notUtf8.length > 0)
    notes.push(
      `left as they are, their names are not UTF-8 (a JSON plan cannot name them): ${listed(notUtf8)}`,
    );
  return pinned;
}
