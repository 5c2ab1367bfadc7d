/**
 * Carrying out a chain of link operations that share files (a module's levels 0 <- 1 <- 2, or every twin
 * of an --all class onto one survivor), in order, each through replaceWithLink. Chains share no file, so
 * several can run at once (in the worker pool); within a chain the expected fingerprints follow the links
 * made, because a link changes the survivor's ctime and link count. Part of src/fsops.
 */
import type { Fingerprint } from './fingerprint.js';
import { type FsCalls, realCalls, replaceWithLink, type SkipReason } from './link.js';

export interface ChainOp {
  /** Keys of the two files inside the caller (entry indexes); fingerprints follow them along the chain. */
  survivor: number;
  target: number;
  survivorPath: string | Buffer;
  targetPath: string | Buffer;
  expectSurvivor: Fingerprint;
  expectTarget: Fingerprint;
}

export type ChainOutcome =
  | {
      ok: true;
      /** Who survived: swapped from the op when the survivor had too many links (EMLINK). */
      survivor: number;
      target: number;
      /** The survivor's fingerprint after the link, and the target's as it was before. */
      survivorAfter: Fingerprint;
      targetBefore: Fingerprint;
    }
  | { ok: false; survivor: number; target: number; reason: SkipReason; message: string };

export function runChain(ops: ChainOp[], dryRun: boolean, calls: FsCalls = realCalls): ChainOutcome[] {
  const current = new Map<number, Fingerprint>();
  return ops.map((op): ChainOutcome => {
    let sFp = current.get(op.survivor) ?? op.expectSurvivor;
    let tFp = current.get(op.target) ?? op.expectTarget;
    let survivor = op.survivor;
    let target = op.target;
    if (!dryRun) {
      let r = replaceWithLink(op.survivorPath, op.targetPath, { survivor: sFp, target: tFp }, calls);
      if (!r.ok && r.reason === 'EMLINK') {
        // The survivor's inode has as many names as the file system allows: let the other file survive.
        const swapped = replaceWithLink(
          op.targetPath,
          op.survivorPath,
          { survivor: tFp, target: sFp },
          calls,
        );
        if (swapped.ok) {
          [survivor, target, sFp, tFp] = [target, survivor, tFp, sFp];
          r = swapped;
        }
      }
      if (!r.ok) return { ok: false, survivor, target, reason: r.reason, message: r.message };
      // Its size and mtime must not have moved: then the survivor is still the content that was compared.
      if (r.survivor.size !== sFp.size || r.survivor.mtimeNs !== sFp.mtimeNs) {
        return { ok: false, survivor, target, reason: 'changed', message: 'survivor changed while linking' };
      }
      sFp = r.survivor;
    }
    current.set(survivor, sFp);
    current.set(target, sFp);
    return { ok: true, survivor, target, survivorAfter: sFp, targetBefore: tFp };
  });
}
