/**
 * Option 1: every cache goes; a __dont_write_bytecode__ marker in each __pycache__ asks Python not to write
 * new ones. CPython does not read it: pyfloppy's runtime, which the plan installs, does (src/strategies/
 * runtime.ts); the modules imported before it keep their caches.
 */
import { K_BYTECODE0, K_BYTECODE2 } from '../model/kinds.js';
import type { Carried, Layout } from './strategy.js';

const isBytecode = (k: number): boolean => k >= K_BYTECODE0 && k <= K_BYTECODE2;

function noBytecode(l: Layout): void {
  const { t, c } = l;
  const pycaches = new Set<number>();
  for (let i = 0; i < t.count; i++)
    if (isBytecode(c.kind[i]!) && l.ok(i) && l.alive(i)) pycaches.add(t.parent[i]!);
  for (const dir of [...pycaches].sort((a, b) => a - b)) {
    l.receives.add(dir);
    const at = { dir, name: '__dont_write_bytecode__' };
    if (!l.facts.exists(at)) l.ops.push({ op: 'write', at, mode: 0o644, size: 0 });
  }
  for (let i = 0; i < t.count; i++) if (isBytecode(c.kind[i]!) && l.ok(i)) l.remove(i);
  l.shipped = new Set();
}

export const NO_BYTECODE: Carried = {
  kind: 'layout',
  id: 'no-bytecode',
  title: 'Ship sources only, no bytecode caches (Option 1)',
  seedRef: '001 Solution 5; 000 Option 1',
  risks: [
    { constraint: 1, why: 'every import compiles from source: slower starts' },
    {
      constraint: 2,
      why: "without pyfloppy's runtime CPython ignores __dont_write_bytecode__ and tries to write caches",
    },
    { constraint: 5, why: 'the marker is honoured by a downstream runtime until CPython adopts it' },
  ],
  runtime: { uses: '__dont_write_bytecode__', keepPresite: true },
  actionable: true,
  note: 'empty __pycache__/__dont_write_bytecode__ markers take no blocks; on a stdlib root, counts the runtime that honours them (~30 KiB) and the pre-site caches it keeps',
  rank: 7,
  layout: noBytecode,
  conflicts: {
    sourceless: 'one ships only sources, the other only bytecode',
    pysources: 'one ships only sources, the other only bytecode',
  },
};
