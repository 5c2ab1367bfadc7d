/** Solution 1: remove PEP 594's dead batteries. Not carried out: a decision for upstream. */
import { type EstimateContext } from './context.js';
import type { Estimated } from './strategy.js';

/** PEP 594's dead batteries (the modules it removed from 3.11-3.13, and those removed before it landed). */
export const DEAD_BATTERIES = [
  'aifc', 'asynchat', 'asyncore', 'audioop', 'binhex', 'cgi', 'cgitb', 'chunk', 'crypt', '_crypt', 'formatter',
  'imghdr', 'imp', 'macpath', 'mailcap', 'msilib', '_msi', 'nis', 'nntplib', 'ossaudiodev', 'parser', 'pipes',
  'smtpd', 'sndhdr', 'spwd', 'sunau', 'symbol', 'telnetlib', 'uu', 'xdrlib',
] as const; // prettier-ignore

/** Entries under the given top-level modules. */
export function inModules(ctx: EstimateContext, names: readonly string[]): (i: number) => boolean {
  const wanted = new Set<number>();
  ctx.c.topNames.forEach((n, k) => {
    if (names.includes(n)) wanted.add(k);
  });
  return (i) => wanted.has(ctx.c.top[i]!);
}

export const DEAD: Estimated = {
  kind: 'estimate',
  id: 'dead-batteries',
  title: 'Remove the dead batteries (PEP 594)',
  seedRef: '001 Solution 1',
  risks: [
    { constraint: 1, why: 'code importing these modules breaks' },
    { constraint: 3, why: 'no metadata says which packages need them' },
    { constraint: 5, why: 'must happen upstream (it did, in 3.11-3.13)' },
  ],
  actionable: false,
  note: 'zero where they are already gone',
  refusal: 'removing modules code may import is a decision for upstream (PEP 594 did it)',
  estimate: (ctx) => ctx.freed(inModules(ctx, DEAD_BATTERIES)),
};
