/**
 * Workaround 6.1 of seed 001: at -O/-OO, a module whose optimized cache is gone runs the next lower level
 * present and fresh (opt-1, then level 0) instead of compiling and writing. An `__optimization_fallback__`
 * marker in each `__pycache__` that keeps a level-0 cache switches it on; pyfloppy's runtime honours it.
 */
import type { Carried, Layout } from './strategy.js';

const MARKER = '__optimization_fallback__';

function optFallback(l: Layout): void {
  const dirs = new Set<number>();
  for (const g of l.groupsOfTag()) {
    const l0 = l.level(g, 0);
    if (l0 !== -1 && l.alive(l0)) dirs.add(l.t.parent[l0]!);
  }
  for (const dir of [...dirs].sort((a, b) => a - b)) {
    l.receives.add(dir);
    const at = { dir, name: MARKER };
    if (!l.facts.exists(at)) l.ops.push({ op: 'write', at, mode: 0o644, size: 0 });
  }
  // -O and -OO are served by the levels below them: no compile, no write where a level-0 cache is fresh.
  if (l.shipped.has(0)) l.shipped = new Set([0, 1, 2]);
}

export const OPT_FALLBACK: Carried = {
  kind: 'layout',
  id: 'opt-fallback',
  title: 'At -O/-OO, fall back to the less optimized caches present (Workaround 6.1)',
  seedRef: '001 Solution 6, Workaround 6.1',
  risks: [
    {
      constraint: 1,
      why: 'a module without its -O/-OO cache runs its level-0 code: asserts and docstrings kept',
    },
    { constraint: 5, why: 'the marker is honoured by a downstream runtime until CPython adopts it' },
  ],
  actionable: true,
  note: 'empty __pycache__/__optimization_fallback__ markers and the runtime that reads them: alone a cost; with drop-opt2 or drop-optimized',
  rank: 6,
  layout: optFallback,
  runtime: { uses: '__optimization_fallback__', keepPresite: true },
  conflicts: {
    'no-bytecode': 'no-bytecode leaves no cache to fall back to',
    sourceless: 'sourceless bytecode is loaded at every level already',
    pysources: 'sourceless bytecode is loaded at every level already',
  },
};
