/**
 * Every strategy's estimate for one model, as the analyze report carries it. Pure but for reading file
 * contents to measure compressed sizes.
 */
import type { Bytes } from '../model/footprint.js';
import type { Model } from '../model/model.js';
import { STRATEGIES } from './catalog.js';
import { estimateOf } from './compose.js';
import type { Risk } from './strategy.js';
import { K_BYTECODE2, K_SOURCE } from '../model/kinds.js';
import type { LazyPool } from '../scan/pool.js';
import { DEFLATE_LEVEL, EstimateContext, NeedsContents, type Subset, sub } from './context.js';

export interface StrategyEstimate {
  id: string;
  title: string;
  seedRef: string;
  risks: Risk[];
  actionable: boolean;
  /** What is left of the baseline after the strategy. */
  after: Bytes;
  saved: Bytes;
  note?: string;
}

export interface Baseline extends Bytes {
  /** Top-level modules left out of the baseline, and whether test code and site-packages are. */
  excludeModules: string[];
  excludeTests: boolean;
  excludeSitePackages: boolean;
}

export async function estimateStrategies(
  model: Model,
  options: { subset?: Subset; only?: readonly string[]; pool?: LazyPool } = {},
): Promise<{ baseline: Baseline; strategies: StrategyEstimate[]; notEstimated: string[] }> {
  const { subset, only } = options;
  const ctx = new EstimateContext(model, subset);
  // The compressed layouts (zips, compressed caches, __pysources__) need every source's and cache's deflated
  // size: measure them all up front, in parallel.
  const toMeasure: number[] = [];
  for (let i = 0; i < ctx.t.count; i++) {
    const k = ctx.c.kind[i]!;
    if (ctx.base[i] === 1 && ctx.fp.counted[i] === 1 && k >= K_SOURCE && k <= K_BYTECODE2) toMeasure.push(i);
  }
  // An image's contents were streamed, not kept: the strategies that need them are left out (not guessed).
  const image = ctx.t.contents !== undefined;
  if (!image) await ctx.measureDeflate(toMeasure, DEFLATE_LEVEL, options.pool);
  const notEstimated: string[] = [];
  const strategies = STRATEGIES.filter((s) => only === undefined || only.includes(s.id)).flatMap((s) => {
    let e: ReturnType<typeof estimateOf>;
    try {
      e = estimateOf(ctx, s);
    } catch (err) {
      if (!(err instanceof NeedsContents)) throw err;
      notEstimated.push(s.id);
      return [];
    }
    return {
      id: s.id,
      title: s.title,
      seedRef: s.seedRef,
      risks: s.risks,
      actionable: s.actionable,
      after: sub(ctx.total, e.saved),
      saved: e.saved,
      ...(e.note === undefined ? {} : { note: e.note }),
    };
  });
  return {
    notEstimated,
    baseline: {
      ...ctx.total,
      excludeModules: subset?.excludeModules ?? [],
      excludeTests: subset?.excludeTests ?? false,
      excludeSitePackages: subset?.excludeSitePackages ?? false,
    },
    strategies,
  };
}
