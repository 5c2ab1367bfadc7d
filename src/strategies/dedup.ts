/** Hardlink identical caches across levels, as compileall --hardlink-dupes pairs them. */
import type { Carried, Layout } from './strategy.js';

/** The identity bit of a pair of levels (the linked bit is the same bit shifted by 3). */
const pairBit = (a: number, b: number): number => (a === 0 && b === 1 ? 1 : a === 1 && b === 2 ? 2 : 4);

function dedup(l: Layout): void {
  // A level linked to an earlier one shares its inode: a later link targets the inode's first name.
  const survivor = new Map<number, number>();
  for (const g of l.groupsOfTag()) {
    const bits = l.ctx.identity.pairBits[g]!;
    const present = [0, 1, 2].filter((n) => l.level(g, n) !== -1 && l.alive(l.level(g, n)));
    // Each level present with the previous one present.
    for (let n = 1; n < present.length; n++) {
      const a = present[n - 1]!;
      const bit = pairBit(a, present[n]!);
      if ((bits & bit) === 0 || (bits & (bit << 3)) !== 0) continue;
      const target = survivor.get(l.level(g, a)) ?? l.level(g, a);
      const later = l.level(g, present[n]!);
      if (!l.ok(target) || !l.ok(later) || l.t.size[later] === 0) continue;
      l.ops.push({ op: 'link', entry: later, target });
      survivor.set(later, target);
    }
  }
}

export const DEDUP: Carried = {
  kind: 'layout',
  id: 'dedup',
  title: 'Hardlink identical caches across levels',
  seedRef: '001 Solution 9; 002',
  risks: [],
  actionable: true,
  note: 'the pairs compileall --hardlink-dupes links',
  rank: 10,
  layout: dedup,
};
