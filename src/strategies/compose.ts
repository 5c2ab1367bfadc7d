/**
 * Composition: the requested ids resolved to carried strategies, their layouts run in order over one
 * `Layout`, then the directories they leave empty removed. The estimate and the plan both come from here.
 */
import { stdlibRoot } from '../python/stdlib.js';
import { PyfloppyError } from '../errors.js';
import { K_DIRECTORY } from '../model/kinds.js';
import { bytesFreed } from './accounting.js';
import { STRATEGIES } from './catalog.js';
import type { EstimateContext } from './context.js';
import type { Carried, Estimate, Facts, Strategy } from './strategy.js';
import { Layout } from './strategy.js';
import { dominantTag, stdlibArchiveBelow } from './zip.js';
import { RUNTIME_MODULES } from '../python/runtime-modules.js';
import { estimatedRuntime } from './runtime-estimate.js';
import { installRuntime, pinModules, runtimeNeeds, type RuntimeNeed } from './runtime.js';
import { PLANNABLE_IDS } from './plannable.js';

const CARRIED: readonly Carried[] = STRATEGIES.filter((s): s is Carried => s.kind === 'layout').sort(
  (a, b) => a.rank - b.rank,
);

/** Strategies `plan` can carry out, in the order they compose. */
export const PLANNABLE: readonly string[] = CARRIED.map((s) => s.id);
if (PLANNABLE.join() !== PLANNABLE_IDS.join()) {
  throw new Error(`plannable.ts lists ${PLANNABLE_IDS.join()}, the catalog carries ${PLANNABLE.join()}`);
}

const byId = (id: string): Strategy | undefined => STRATEGIES.find((s) => s.id === id);

/** Expand requested ids (catalog ids, named combinations) into carried ids in composition order, or refusals. */
export function resolveStrategies(requested: readonly string[]): {
  ids: string[];
  refused: Array<{ strategy: string; why: string }>;
} {
  const ids = new Set<string>();
  const refused: Array<{ strategy: string; why: string }> = [];
  for (const r of requested) {
    const s = byId(r);
    if (s?.kind === 'layout') ids.add(r);
    else if (s?.kind === 'parts' && s.refusal === undefined) for (const p of s.parts) ids.add(p);
    else if (s !== undefined && s.refusal !== undefined) refused.push({ strategy: r, why: s.refusal });
    else {
      const combined = STRATEGIES.filter((x) => x.kind === 'parts' && x.refusal === undefined);
      const known = [...PLANNABLE, ...combined.map((x) => x.id)].join(', ');
      throw new PyfloppyError('EUSAGE', `unknown strategy '${r}'`, { hint: `plannable: ${known}` });
    }
  }
  for (const s of CARRIED)
    for (const [other, why] of Object.entries(s.conflicts ?? {}))
      if (ids.has(s.id) && ids.has(other))
        throw new PyfloppyError('EUSAGE', `${s.id} and ${other} cannot be combined: ${why}`);
  return { ids: PLANNABLE.filter((p) => ids.has(p)), refused };
}

/** Run the layouts of `ids` (carried, in composition order) over one Layout, then remove emptied dirs. */
export function compose(facts: Facts, ids: readonly string[]): Layout {
  const l = new Layout(facts, ids);
  const carried = CARRIED.filter(
    (s) => ids.includes(s.id) && (s.subsumedBy === undefined || !ids.includes(s.subsumedBy)),
  );
  const runtime = withRuntime(
    l,
    carried.flatMap((s) => (s.runtime === undefined ? [] : [s.runtime])),
  );
  for (const s of carried) s.layout(l);
  runtime?.();
  removeEmptied(l);
  return l;
}

/**
 * When strategies rely on pyfloppy's runtime: the pre-site modules pinned now (before any layout), and the
 * runtime installed after them (returned); where it cannot be, a note says what the markers then do not do.
 */
function withRuntime(l: Layout, needs: RuntimeNeed[]): (() => void) | undefined {
  const need = runtimeNeeds(needs);
  if (need === null) return undefined;
  const setup = l.facts.runtime();
  if ('why' in setup) {
    l.notes.push(
      `pyfloppy's runtime is not installed (${setup.why}): nothing honours ${need.uses.join(', ')}`,
    );
    return undefined;
  }
  l.notes.push(
    `pyfloppy's runtime is installed (${setup.by}) for ${need.uses.join(', ')}: a downstream mechanism until CPython has one`,
  );
  // The runtime's own modules (installed by an earlier plan) stay as they are, whatever the strategies.
  pinModules(
    l,
    RUNTIME_MODULES.map((m) => `${m}.py`),
  );
  if (need.keepPresite) {
    const kept = pinModules(l, setup.presite);
    if (kept.length > 0)
      l.notes.push(
        `imported before site runs the runtime, these keep their source and caches: ${kept.join(', ')}`,
      );
  }
  return () => installRuntime(l, setup);
}

/**
 * Directories the operations leave empty go too (after their files, deepest first); a root and sys.path
 * directories stay, and so does a directory the facts pin (not known whole), with those above it.
 */
function removeEmptied(l: Layout): void {
  const keep = new Set([...l.receives, ...l.facts.pinned(l.notes)]);
  const gone = l.ctx.emptiedDirectories((i) => l.removed[i] === 1 || l.moved[i] === 1, keep);
  for (let i = l.t.count - 1; i >= 0; i--) {
    if (gone[i] !== 1 || l.c.kind[i] !== K_DIRECTORY || !l.ok(i)) continue;
    l.removed[i] = 1;
    l.ops.push({ op: 'rmdir', entry: i });
  }
}

/** The facts an estimate assumes from the model alone: every cache fresh, every name free. */
export function modelFacts(ctx: EstimateContext): Facts {
  return {
    ctx,
    cacheTag: dominantTag(ctx.c),
    // Where Python runs the tree: an image's or a root file system's install path, else where it is.
    dest: ctx.installedPath,
    plannable: () => true,
    fresh: () => true,
    zipFresh: () => true,
    exists: () => false,
    // The archive's real name where the root is a stdlib: relocated bytecode names it.
    archive: () => ({
      rel: stdlibRoot(ctx.rootPath)?.archive ?? stdlibArchiveBelow(ctx) ?? '../pythonXY.zip',
    }),
    pinned: () => [],
    runtime: () => estimatedRuntime(ctx),
  };
}

/** A catalog strategy's estimate: its own, or what its layouts' operations free. */
export function estimateOf(ctx: EstimateContext, s: Strategy): Estimate {
  const note = typeof s.note === 'function' ? s.note(ctx) : s.note;
  const saved =
    s.kind === 'estimate'
      ? s.estimate(ctx)
      : bytesFreed(ctx, compose(modelFacts(ctx), s.kind === 'layout' ? [s.id] : s.parts).ops);
  return note === undefined ? { saved } : { saved, note };
}

/** The estimate of a catalog id, or null for an id the catalog does not have. */
export function estimateById(ctx: EstimateContext, id: string): Estimate | null {
  const s = byId(id);
  return s === undefined ? null : estimateOf(ctx, s);
}
