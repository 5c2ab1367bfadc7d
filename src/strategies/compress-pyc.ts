/** Solution 8: each .pyc compressed. Not carried out: CPython has no compressed-pyc format. */
import { K_BYTECODE0, K_BYTECODE2 } from '../model/kinds.js';
import { DEFLATE_LEVEL, ZIP_CENTRAL_HEADER, ZIP_END_RECORD, ZIP_LOCAL_HEADER } from './context.js';
import type { Estimated } from './strategy.js';

export const COMPRESS_PYC: Estimated = {
  kind: 'estimate',
  id: 'compress-pyc',
  title: 'Compress each .pyc',
  seedRef: '001 Solution 8',
  risks: [
    { constraint: 5, why: 'needs a compressed-pyc flag in CPython' },
    { constraint: 1, why: 'imports decompress: slower starts' },
  ],
  actionable: false,
  note: 'each .pyc zipped on its own, deflate level 6',
  refusal: 'needs a compressed-pyc format CPython does not have',
  estimate: (ctx) => {
    const { t, c } = ctx;
    const saved = { apparentBytes: 0, allocatedBytes: 0 };
    for (let i = 0; i < t.count; i++) {
      const k = c.kind[i]!;
      if (ctx.base[i] === 0 || ctx.fp.counted[i] === 0 || k < K_BYTECODE0 || k > K_BYTECODE2) continue;
      // As the seed measured it: each file zipped on its own.
      const name = Buffer.byteLength(t.name[i] as string);
      const size =
        ZIP_LOCAL_HEADER +
        ZIP_CENTRAL_HEADER +
        ZIP_END_RECORD +
        2 * name +
        ctx.deflatedSize(i, DEFLATE_LEVEL);
      saved.apparentBytes += t.size[i]! - size;
      saved.allocatedBytes += t.blocks[i]! * 512 - ctx.allocation(size);
    }
    return saved;
  },
};
