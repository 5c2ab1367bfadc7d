/** Drop the optimized caches: level 2 only (drop-opt2), or levels 1 and 2 (drop-optimized). */
import { K_BYTECODE1, K_BYTECODE2 } from '../model/kinds.js';
import type { Carried, Layout, Risk } from './strategy.js';

export const DROP_OPT_RISKS: Risk[] = [
  { constraint: 1, why: 'with -O/-OO, imports compile from source: slower starts' },
  { constraint: 2, why: 'Python then tries to write the missing caches: SELinux denials, root-owned litter' },
];

/** Remove every cache of the given kinds; the levels still shipped are those below `keepBelow`. */
function dropLevels(kinds: number[], keepBelow: number): (l: Layout) => void {
  return (l) => {
    for (let i = 0; i < l.t.count; i++) if (kinds.includes(l.c.kind[i]!) && l.ok(i)) l.remove(i);
    l.shipped = new Set([...l.shipped].filter((level) => level < keepBelow));
  };
}

export const DROP_OPT2: Carried = {
  kind: 'layout',
  id: 'drop-opt2',
  title: 'Drop the level-2 caches',
  seedRef: '001 Solution 6 ("level 2 is already broken")',
  risks: [{ constraint: 1, why: 'with -OO, imports compile from source and Python tries to write caches' }],
  actionable: true,
  rank: 4,
  layout: dropLevels([K_BYTECODE2], 2),
};

export const DROP_OPTIMIZED: Carried = {
  kind: 'layout',
  id: 'drop-optimized',
  title: 'Drop the optimized caches (levels 1 and 2)',
  seedRef: '001 Solution 6',
  risks: DROP_OPT_RISKS,
  actionable: true,
  rank: 5,
  layout: dropLevels([K_BYTECODE1, K_BYTECODE2], 1),
};
