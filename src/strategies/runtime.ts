/**
 * pyfloppy's runtime (python/runtime/) as a layout's operations: what makes the markers of no-bytecode,
 * pysources and opt-fallback do something on an unmodified CPython. Installed into a stdlib directory
 * (`lib/pythonX.Y`, 3.7+): the runtime module and `sitecustomize.py` (for venvs) with their caches at
 * levels 0-2 (unchecked-hash: they load before the runtime's hooks exist), and `_pyfloppy_runtime.pth`
 * (3.7-3.14) and `.start` (PEP 829, 3.15+) in its site-packages. Modules imported before site runs the
 * `.pth` keep their caches when a strategy removes caches (they load before the hooks too).
 *
 * The plan's facts answer with the interpreter's bytes (src/python/runtime.ts); an estimate's with their
 * sizes (runtime-estimate.ts) and the pre-site modules from PRESITE (test/runtime-plan.test.ts checks both
 * against every interpreter here).
 */
import { K_SOURCE } from '../model/kinds.js';
import { parseCacheName } from '../python/layout.js';
import { RUNTIME_MODULES } from '../python/runtime-modules.js';
import type { EntryName } from '../scan/table.js';
import type { Layout, Place } from './strategy.js';

/** A file the runtime adds, relative to the stdlib directory: its bytes (plan) or its size (estimate). */
export interface RuntimeFile {
  rel: string;
  size: number;
  data?: Uint8Array;
}

export interface RuntimeSetup {
  files: RuntimeFile[];
  /** Sources (relative to the stdlib directory) of the modules imported before site runs the `.pth`. */
  presite: string[];
  /** What answered, for the plan's notes (an interpreter, or the estimate's table). */
  by: string;
}

/** The runtime for a tree, or why it cannot be installed there. */
export type RuntimeAnswer = RuntimeSetup | { why: string };

/** What a strategy needs of the runtime. */
export interface RuntimeNeed {
  /** The behaviour it relies on, for the plan's notes. */
  uses: string;
  /** Whether the modules imported before site keep their caches (the strategy removes caches). */
  keepPresite: boolean;
}

const OLD_PRESITE = [
  '_collections_abc.py',
  '_sitebuiltins.py',
  'abc.py',
  'codecs.py',
  'encodings/__init__.py',
  'encodings/aliases.py',
  'encodings/utf_8.py',
  'genericpath.py',
  'io.py',
  'os.py',
  'posixpath.py',
  'site.py',
  'stat.py',
];
const ENCODINGS = ['encodings/__init__.py', 'encodings/aliases.py', 'encodings/utf_8.py'];

/**
 * Pre-site pure-Python modules by minor version: what python/runtime/presite.py answers at levels 0-2 (3.7
 * to 3.9 read a .pth file in the locale's encoding: _bootlocale), checked by test/runtime-plan.test.ts.
 */
const BOOTLOCALE = [...OLD_PRESITE, '_bootlocale.py', 'encodings/latin_1.py'].sort();
export const PRESITE: Record<number, string[]> = {
  7: BOOTLOCALE,
  8: BOOTLOCALE,
  9: BOOTLOCALE,
  10: OLD_PRESITE,
  11: ENCODINGS,
  12: ENCODINGS,
  13: [...ENCODINGS, 'encodings/utf_8_sig.py', 'linecache.py'],
};

export const PTH = Buffer.from('import _pyfloppy_runtime\n');
export const START = Buffer.from('_pyfloppy_runtime:activate\n');

/** The files of the runtime, from each module's source and caches (bytes, or sizes for an estimate). */
export function runtimeFiles(
  tag: string,
  module: (name: string) => { source: Uint8Array | number; caches: Array<Uint8Array | number> },
): RuntimeFile[] {
  const file = (rel: string, x: Uint8Array | number): RuntimeFile =>
    typeof x === 'number' ? { rel, size: x } : { rel, size: x.length, data: x };
  const out: RuntimeFile[] = [];
  for (const name of RUNTIME_MODULES) {
    const m = module(name);
    out.push(file(`${name}.py`, m.source));
    m.caches.forEach((c, level) =>
      out.push(file(`__pycache__/${name}.${tag}${level === 0 ? '' : `.opt-${level}`}.pyc`, c)),
    );
  }
  out.push(
    file('site-packages/_pyfloppy_runtime.pth', PTH),
    file('site-packages/_pyfloppy_runtime.start', START),
  );
  return out;
}

/** The strategies of the composition that need the runtime, and whether pre-site caches must stay. */
export function runtimeNeeds(needs: RuntimeNeed[]): { uses: string[]; keepPresite: boolean } | null {
  if (needs.length === 0) return null;
  return { uses: needs.map((n) => n.uses), keepPresite: needs.some((n) => n.keepPresite) };
}

const text = (n: EntryName): string => (typeof n === 'string' ? n : n.toString('latin1'));

/** Pin the sources and caches (any level) of these modules (by source path): no layout may touch them. */
export function pinModules(l: Layout, presite: string[]): string[] {
  const want = new Set(presite);
  const kept = new Set<string>();
  for (let i = 0; i < l.t.count; i++)
    if (l.c.kind[i] === K_SOURCE && want.has(l.rel(i))) {
      l.pin(i);
      kept.add(l.rel(i));
    }
  const b = l.c.bytecode;
  for (let g = 0; g < b.count; g++) {
    const levels = [0, 1, 2].map((n) => l.level(g, n)).filter((e) => e !== -1);
    const any = levels[0];
    if (any === undefined) continue;
    const mod = parseCacheName(text(l.t.name[any]!))?.module;
    const dir = l.rel(l.t.parent[l.t.parent[any]!]!);
    if (mod !== undefined && want.has(dir === '' ? `${mod}.py` : `${dir}/${mod}.py`))
      for (const e of levels) l.pin(e);
  }
  return [...kept].sort();
}

/** The directory entry `name` directly under the root, or -1. */
function topDir(l: Layout, name: string): number {
  for (let i = 0; i < l.t.count; i++) if (l.t.parent[i] === l.root && l.t.name[i] === name) return i;
  return -1;
}

/** The runtime's files as new files of the root (directories made where missing), each unless it exists. */
export function installRuntime(l: Layout, setup: RuntimeSetup): void {
  for (const dir of ['__pycache__', 'site-packages']) {
    const e = topDir(l, dir);
    if (e !== -1) l.receives.add(e);
    else if (!l.facts.exists({ dir: l.root, name: dir }))
      l.ops.push({ op: 'mkdir', at: { dir: l.root, name: dir }, mode: 0o755 });
  }
  const sitecustomize = l.facts.exists({ dir: l.root, name: 'sitecustomize.py' });
  if (sitecustomize)
    l.notes.push(
      'sitecustomize.py exists: the runtime is not installed as sitecustomize, and so is not active in virtual environments without --system-site-packages',
    );
  const present: string[] = [];
  for (const f of setup.files) {
    if (sitecustomize && /^(?:__pycache__\/)?sitecustomize\./.test(f.rel)) continue;
    const at: Place = { dir: l.root, name: f.rel };
    if (l.facts.exists(at)) present.push(f.rel);
    else
      l.ops.push({
        op: 'write',
        at,
        mode: 0o644,
        size: f.size,
        ...(f.data === undefined ? {} : { data: f.data }),
      });
  }
  if (present.length > 0)
    l.notes.push(`left as they are (the runtime was installed before): ${present.join(', ')}`);
  l.receives.add(l.root);
}
