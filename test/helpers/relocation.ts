/**
 * The estimate of `analyze` counts relocated bytecode as large as its cache; a plan counts the relocated
 * bytes. What that difference is, from a plan, so that tests can still ask for the exact figure.
 */
import fs from 'node:fs';
import type { Bytes } from '../../src/model/footprint.js';
import type { Plan } from '../../src/plan/plan.js';

/** What relocated bytecode adds to the plan beyond the estimate (sizes of new files minus the caches'). */
export function relocationCost(p: Plan, root: string): Bytes {
  const bsize = Number(fs.statfsSync(root).bsize);
  const blocks = (n: number): number => Math.ceil(n / bsize) * bsize;
  const cost = { apparentBytes: 0, allocatedBytes: 0 };
  for (const o of p.operations)
    if (o.op === 'write' && 'relocateOf' in o.content) {
      cost.apparentBytes += o.size - o.content.fp.size;
      cost.allocatedBytes += blocks(o.size) - blocks(o.content.fp.size);
    }
  return cost;
}

export const minus = (a: Bytes, b: Bytes): Bytes => ({
  apparentBytes: a.apparentBytes - b.apparentBytes,
  allocatedBytes: a.allocatedBytes - b.allocatedBytes,
});
