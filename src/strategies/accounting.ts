/**
 * The one accounting of what operations free, for the estimate of `analyze` and the `saved` of `plan`
 * alike: removed names through the per-inode rule (an inode is freed when its last name goes, directories
 * the operations empty included), links (the later file's inode, when it had no other name), minus new
 * files (whole blocks) and new directories (one block each). Only baseline entries count.
 */
import type { Bytes } from '../model/footprint.js';
import { add, type EstimateContext, sub, ZERO } from './context.js';
import type { LayoutOp } from './strategy.js';

/** What replacing `later` by a link frees: its inode, unless it has another name. */
export function linkFrees(ctx: EstimateContext, later: number): Bytes {
  if (ctx.base[later] === 0 || ctx.t.nlink[later]! > 1) return ZERO;
  return { apparentBytes: ctx.t.size[later]!, allocatedBytes: ctx.t.blocks[later]! * 512 };
}

/** Bytes freed by the operations (removals and rmdirs, links) less the bytes they add. */
export function bytesFreed(ctx: EstimateContext, ops: readonly LayoutOp[]): Bytes {
  const gone = new Uint8Array(ctx.t.count);
  let links = ZERO;
  let added = ZERO;
  // A new directory counts when a counted file goes into it.
  const filled = new Set<string>();
  for (const o of ops) {
    if (o.op === 'remove' || o.op === 'rmdir') gone[o.entry] = 1;
    else if (o.op === 'link') links = add(links, linkFrees(ctx, o.entry));
    else if (o.op === 'zip') added = add(added, ctx.newFile(o.size));
    else if (o.op === 'write' && (o.gzipOf === undefined || ctx.base[o.gzipOf] === 1)) {
      added = add(added, ctx.newFile(o.size));
      filled.add(`${o.at.dir}/${o.at.name.split('/')[0]}`);
    }
  }
  for (const o of ops)
    if (o.op === 'mkdir' && filled.has(`${o.at.dir}/${o.at.name}`))
      added = add(added, { apparentBytes: ctx.blockSize, allocatedBytes: ctx.blockSize });
  return sub(
    add(
      ctx.freed((i) => gone[i] === 1),
      links,
    ),
    added,
  );
}
