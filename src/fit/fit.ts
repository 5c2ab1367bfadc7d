/**
 * `fit`: the least risky set of strategies that brings a tree under a size budget. Every set of plannable
 * strategies that can be combined is a candidate; its risk is the constraints of seed 001 it puts at risk
 * (the union of its strategies' own, a named combination's risks standing for its parts: drop-optimized
 * with opt-fallback risks 1 and 5, not 2). Candidates are tried by fewest constraints, then most bytes kept;
 * each is measured by composing its layouts over the tree's facts as a plan sees them (a stale cache keeps
 * its source, zip-stdlib needs a stdlib root) with the estimate's accounting of sizes; the one chosen is
 * then planned and measured again with the sizes of the bytes the plan makes.
 *
 * Sizes are apparent bytes, the size `du --apparent-size` reports and an unpacked bundle's limit counts
 * (AWS Lambda: 262,144,000 bytes unzipped); with `compressed`, the size of a zip of the tree (every name's
 * content deflated at level 6, plus its zip headers; hardlinks stored once per name, as zip does). Node's
 * zlib deflates to other lengths than CPython's system zlib: within about 1 % of what zipfile writes.
 */
import path from 'node:path';
import { PyfloppyError } from '../errors.js';
import { buildModel, type Model } from '../model/model.js';
import { packageKind } from '../package/detect.js';
import type { PackageInfo } from '../package/target.js';
import { K_BYTECODE2, K_SOURCE } from '../model/kinds.js';
import {
  type Plan,
  planFacts,
  planModel,
  type PlanOptions,
  resolveStrategies,
  treeModel,
} from '../plan/plan.js';
import { LazyPool, defaultWorkerCount } from '../scan/pool.js';
import { TYPE_DIR } from '../scan/table.js';
import { bytesFreed } from '../strategies/accounting.js';
import { STRATEGIES } from '../strategies/catalog.js';
import { compose, modelFacts, PLANNABLE } from '../strategies/compose.js';
import { DEFLATE_LEVEL, EstimateContext, NeedsContents } from '../strategies/context.js';
import type { Carried, Facts, LayoutOp, Strategy } from '../strategies/strategy.js';

export const FIT_SCHEMA = 'pyfloppy.fit/1';

/** The strategies whose sizes come from files' contents (deflated sizes): not measured on an archive. */
const NEEDS_CONTENTS = new Set(['zip-data', 'zip-stdlib', 'pysources']);

export interface FitOptions extends Pick<PlanOptions, 'path' | 'cacheTag' | 'dest' | 'python' | 'runtime'> {
  /** The budget in bytes. */
  budget: number;
  /** Measure the size of a zip of the tree instead of its apparent size. */
  compressed?: boolean;
  /** Plan the chosen set on the real tree (and check the plan against the budget). */
  plan?: boolean;
  workers?: number;
  onProgress?: (entries: number, apparentBytes: number) => void;
}

export interface FitCandidate {
  /** Plannable ids, in composition order ([] changes nothing). */
  strategies: string[];
  /** Constraints of seed 001 put at risk (1-5). */
  constraints: number[];
  /** The tree's size after the strategies, in the fit's measure. */
  size: number;
}

export interface FitReport {
  schema: typeof FIT_SCHEMA;
  /** The tree (its real path), or the bundle's path. */
  root: string;
  /** 'directory', or the kind of package or bundle read (zip, wheel, tar, rpm, deb). */
  target: string;
  measure: 'apparent' | 'compressed';
  budget: number;
  /** The tree's size now. */
  size: number;
  fits: boolean;
  /** The least risky set that fits, keeping the most bytes among those as risky; null when none fits. */
  chosen: FitCandidate | null;
  /** The smallest result of any set measured: how far off the budget the best effort is. */
  closest: FitCandidate;
  /** closest.size - budget when nothing fits, else 0. */
  over: number;
  /** Sets measured (of `candidates`). */
  measured: number;
  candidates: number;
  /** Candidates that fit by the estimate but whose real plan did not (stale caches, names taken). */
  missedByPlan: FitCandidate[];
  notes: string[];
  plan: Plan | null;
}

/** Find the least risky fitting set; plan it when asked. */
export async function fit(options: FitOptions): Promise<FitReport> {
  const bundle = packageKind(path.resolve(options.path));
  if (bundle !== undefined) return await fitBundle(options, bundle);
  const { model, real } = await treeModel(options);
  const ctx = new EstimateContext(model);
  await measureContents(ctx, options);
  const measure = options.compressed === true ? zipSize(ctx) : apparentSize(ctx);
  const candidates = enumerateCandidates();
  const search = new Search(memoized(planFacts(ctx, model, real, options)), measure, options.budget);
  const report = baseReport(real, 'directory', options, measure.now, candidates.length);
  const missed = new Map<string, FitCandidate>();
  for (;;) {
    const chosen = search.leastRisky(candidates, missed);
    report.chosen = chosen;
    if (chosen === null || options.plan !== true || chosen.strategies.length === 0) break;
    const planned = await planOf(model, real, chosen, measure, options);
    if (planned.size <= options.budget) {
      report.chosen = { ...chosen, size: planned.size };
      report.plan = planned.plan;
      break;
    }
    missed.set(chosen.strategies.join(), { ...chosen, size: planned.size });
  }
  return finish(report, search, candidates, [...missed.values()]);
}

/**
 * A bundle or package (a Lambda zip, a wheel, a tar, an RPM, a deb), read streaming as analyze reads it:
 * its sets measured over the model (its files are not on disk: no plan; the strategies that need contents,
 * the zip layouts and pysources, are left out). `compressed` is estimated, as analyze's package section
 * is: removed bytes compress at the payload's average ratio.
 */
async function fitBundle(options: FitOptions, kind: string): Promise<FitReport> {
  const abs = path.resolve(options.path);
  if (options.plan === true)
    throw new PyfloppyError('EUSAGE', `a plan needs the files on disk, and ${options.path} is a ${kind}`, {
      hint: 'unpack it (e.g. unzip -q BUNDLE -d DIR), fit DIR with -o, apply the plan, pack DIR again',
    });
  const model = await buildModel({
    paths: [abs],
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const ctx = new EstimateContext(model);
  ctx.relocationUnread = true;
  const info = model.package!;
  const measure = options.compressed === true ? bundleCompressed(ctx, info) : apparentSize(ctx);
  const candidates = enumerateCandidates();
  const search = new Search(modelFacts(ctx), measure, options.budget);
  const report = baseReport(abs, kind, options, measure.now, candidates.length);
  report.chosen = search.leastRisky(candidates, new Map());
  const result = finish(report, search, candidates, []);
  result.notes.push(...bundleNotes(search, info, options));
  return result;
}

function bundleNotes(search: Search, info: PackageInfo, options: FitOptions): string[] {
  const notes = [
    `a ${info.kind} is read, not unpacked: caches are taken as fresh, names as free, a relocated cache as its size (a few bytes per code object apart); a plan needs the files on disk`,
  ];
  if (search.unmeasured.size > 0)
    notes.push(`not measured (they need the files' contents): ${[...search.unmeasured].sort().join(', ')}`);
  if (options.compressed === true)
    notes.push(
      `compressed sizes are estimated from ${info.archiveBytes} bytes shipped: the bytes a strategy removes are taken to compress as the payload does on average (${info.payloadBytes} stored for ${info.memberBytes} apparent)`,
    );
  return notes;
}

/** A package's compressed size after a layout, estimated at the payload's average ratio. */
function bundleCompressed(ctx: EstimateContext, info: PackageInfo): Measure {
  const ratio = info.memberBytes === 0 ? 0 : info.payloadBytes / info.memberBytes;
  const now = info.archiveBytes;
  return { now, after: (ops) => Math.round(now - bytesFreed(ctx, ops).apparentBytes * ratio) };
}

function baseReport(
  root: string,
  target: string,
  options: FitOptions,
  size: number,
  candidates: number,
): FitReport {
  return {
    schema: FIT_SCHEMA,
    root,
    target,
    measure: options.compressed === true ? 'compressed' : 'apparent',
    budget: options.budget,
    size,
    fits: false,
    chosen: null,
    closest: { strategies: [], constraints: [], size },
    over: 0,
    measured: 0,
    candidates,
    missedByPlan: [],
    notes: [],
    plan: null,
  };
}

function finish(
  report: FitReport,
  search: Search,
  candidates: Candidate[],
  missed: FitCandidate[],
): FitReport {
  if (report.chosen === null) search.minimizeClosest(candidates);
  report.fits = report.chosen !== null;
  report.closest = search.closest;
  report.over = report.fits ? 0 : Math.max(0, search.closest.size - report.budget);
  report.measured = search.measured;
  report.missedByPlan = missed;
  if (report.plan !== null) report.notes.push(...report.plan.notes);
  return report;
}

/** The chosen set planned on the real tree, and the tree's size after that plan. */
async function planOf(
  model: Model,
  real: string,
  chosen: FitCandidate,
  measure: Measure,
  options: FitOptions,
): Promise<{ plan: Plan; size: number }> {
  const { ids, refused } = resolveStrategies(chosen.strategies);
  let size = measure.now;
  const plan = await planModel(model, real, chosen.strategies, ids, refused, {
    ...options,
    onLayout: (ops) => {
      size = measure.after(ops);
    },
  });
  return { plan, size };
}

/**
 * The plan's facts, with the answers that read files (whether a cache is fresh against its source)
 * remembered: every candidate composes over them.
 */
function memoized(facts: Facts): Facts {
  const remember = (ask: (a: number, b: number) => boolean) => {
    const known = new Map<string, boolean>();
    return (a: number, b: number): boolean => {
      const key = `${a}:${b}`;
      let v = known.get(key);
      if (v === undefined) known.set(key, (v = ask(a, b)));
      return v;
    };
  };
  return {
    ...facts,
    fresh: remember((a, b) => facts.fresh(a, b)),
    zipFresh: remember((a, b) => facts.zipFresh(a, b)),
  };
}

/**
 * The contents the measures need, read once: the deflated sizes of sources and caches (the zip layouts and
 * pysources' gzip are sized from them), and with `compressed` of every file.
 */
async function measureContents(ctx: EstimateContext, options: FitOptions): Promise<void> {
  const entries: number[] = [];
  for (let i = 0; i < ctx.t.count; i++) {
    if (ctx.base[i] !== 1 || ctx.t.type[i] === TYPE_DIR) continue;
    const k = ctx.c.kind[i]!;
    if (options.compressed === true || (ctx.fp.counted[i] === 1 && k >= K_SOURCE && k <= K_BYTECODE2))
      entries.push(i);
  }
  const pool = new LazyPool(options.workers ?? defaultWorkerCount());
  try {
    await ctx.measureDeflate(entries, DEFLATE_LEVEL, pool);
  } finally {
    await pool.close();
  }
}

/** A size of the tree now, and after a layout's operations. */
interface Measure {
  now: number;
  after(ops: readonly LayoutOp[]): number;
}

/** Apparent bytes: what the operations free, by the estimate's and the plan's one accounting. */
function apparentSize(ctx: EstimateContext): Measure {
  const now = ctx.total.apparentBytes;
  return { now, after: (ops) => now - bytesFreed(ctx, ops).apparentBytes };
}

/** A zip's local header (30) and central directory entry (46), each with the name; the end record (22). */
const zipEntry = (nameBytes: number): number => 76 + 2 * nameBytes;
const ZIP_END = 22;

/**
 * The size of a zip of the tree: per name (a hardlink's every name: zip has no links) its content deflated
 * at level 6 and its headers; what operations remove goes, what they write (already compressed: gzip,
 * archives) is stored, a moved file keeps its content under its new name.
 */
function zipSize(ctx: EstimateContext): Measure {
  const t = ctx.t;
  const entry = new Float64Array(t.count);
  let now = ZIP_END;
  for (let i = 0; i < t.count; i++) {
    if (ctx.base[i] !== 1 || t.type[i] === TYPE_DIR) continue;
    entry[i] = ctx.deflatedSize(i, DEFLATE_LEVEL) + zipEntry(Buffer.byteLength(t.relativePath(i)));
    now += entry[i]!;
  }
  const after = (ops: readonly LayoutOp[]): number => {
    let size = now;
    for (const o of ops) size += zipDelta(ctx, entry, o);
    return size;
  };
  return { now, after };
}

function zipDelta(ctx: EstimateContext, entry: Float64Array, o: LayoutOp): number {
  switch (o.op) {
    case 'remove':
      return -entry[o.entry]!;
    case 'move': {
      const from = ctx.t.name[o.entry]!;
      return 2 * (Buffer.byteLength(o.to.name) - Buffer.byteLength(from));
    }
    case 'write':
      return o.size + zipEntry(Buffer.byteLength(o.at.name) + 1);
    case 'zip':
      return o.size + zipEntry(Buffer.byteLength(o.path));
    default:
      return 0;
  }
}

/** A set of plannable strategies that can be carried out together, and what it risks. */
interface Candidate {
  ids: string[];
  constraints: number[];
}

/** Every combinable set of plannable strategies (a subsumed one left out: its subsumer does it all). */
export function enumerateCandidates(): Candidate[] {
  const all: Candidate[] = [];
  for (let mask = 0; mask < 1 << PLANNABLE.length; mask++) {
    const ids = PLANNABLE.filter((_, b) => (mask & (1 << b)) !== 0);
    if (!combinable(ids)) continue;
    all.push({ ids, constraints: constraintsOf(ids) });
  }
  return all.sort((a, b) => a.constraints.length - b.constraints.length || a.ids.length - b.ids.length);
}

const carried = (id: string): Carried | undefined =>
  STRATEGIES.find((s): s is Carried => s.kind === 'layout' && s.id === id);

function combinable(ids: readonly string[]): boolean {
  if (ids.some((id) => ids.includes(carried(id)?.subsumedBy ?? ''))) return false;
  try {
    resolveStrategies(ids);
    return true;
  } catch {
    return false;
  }
}

/**
 * The constraints a set risks: the union of its strategies' own, except where a named combination of its
 * parts declares other risks than their union (drop-optimized + opt-fallback: 1 and 5, since the fallback
 * takes back constraint 2's risk): there the combination's stand for its parts.
 */
export function constraintsOf(ids: readonly string[]): number[] {
  const risks = (s: Strategy): number[] => s.risks.map((r) => r.constraint);
  const own = (id: string): number[] => risks(STRATEGIES.find((s) => s.id === id)!);
  const overriding = STRATEGIES.filter(
    (s) =>
      s.kind === 'parts' &&
      s.parts.length > 1 &&
      s.parts.every((p) => ids.includes(p)) &&
      !sameSet(risks(s), s.parts.flatMap(own)),
  );
  const covered = new Set(overriding.flatMap((s) => (s.kind === 'parts' ? s.parts : [])));
  const all = [...overriding.flatMap(risks), ...ids.filter((id) => !covered.has(id)).flatMap(own)];
  return [...new Set(all)].sort((a, b) => a - b);
}

function sameSet(a: number[], b: number[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}

/**
 * The search: by number of constraints, the sets of each level measured (memoized), a level skipped at once
 * when none of its largest sets fits, and a set not measured when it contains one that fits already (its
 * added strategies remove more, so it keeps fewer bytes).
 */
class Search {
  measured = 0;
  closest: FitCandidate;
  /** Strategies a set could not be measured with (an archive's contents are not kept). */
  readonly unmeasured = new Set<string>();
  private readonly sizes = new Map<string, number>();

  constructor(
    private readonly facts: Facts,
    private readonly measure: Measure,
    private readonly budget: number,
  ) {
    this.closest = { strategies: [], constraints: [], size: measure.now };
  }

  /**
   * The closest set made minimal: strategies whose removal leaves the size where it is go (a level that does
   * not fit measures only its largest sets, which hold strategies that add nothing here).
   */
  minimizeClosest(candidates: Candidate[]): void {
    let c = this.closest;
    for (const id of c.strategies) {
      const fewer = candidates.find((d) => d.ids.join() === c.strategies.filter((x) => x !== id).join());
      if (fewer === undefined || this.size(fewer) > c.size) continue;
      c = { strategies: fewer.ids, constraints: fewer.constraints, size: this.size(fewer) };
    }
    this.closest = c;
  }

  leastRisky(candidates: Candidate[], missed: Map<string, FitCandidate>): FitCandidate | null {
    const levels = new Map<number, Candidate[]>();
    for (const c of candidates)
      levels.set(c.constraints.length, [...(levels.get(c.constraints.length) ?? []), c]);
    for (const level of [...levels.keys()].sort((a, b) => a - b)) {
      const best = this.bestAt(levels.get(level)!, missed);
      if (best !== null) return best;
    }
    return null;
  }

  private bestAt(level: Candidate[], missed: Map<string, FitCandidate>): FitCandidate | null {
    if (!maximal(level).some((c) => this.size(c) <= this.budget)) return null;
    let best: FitCandidate | null = null;
    const fitting: Candidate[] = [];
    for (const c of level) {
      if (missed.has(c.ids.join()) || fitting.some((f) => f.ids.every((id) => c.ids.includes(id)))) continue;
      const size = this.size(c);
      if (size > this.budget) continue;
      fitting.push(c);
      if (best === null || size > best.size) best = { strategies: c.ids, constraints: c.constraints, size };
    }
    return best;
  }

  /** One set's size after its layouts; a set that needs contents not kept counts as fitting nothing. */
  private measured1(c: Candidate): number {
    try {
      return this.measure.after(compose(this.facts, c.ids).ops);
    } catch (e) {
      if (!(e instanceof NeedsContents)) throw e;
      for (const id of c.ids) if (NEEDS_CONTENTS.has(id)) this.unmeasured.add(id);
      return Infinity;
    }
  }

  private size(c: Candidate): number {
    const key = c.ids.join();
    let size = this.sizes.get(key);
    if (size === undefined) {
      size = this.measured1(c);
      this.sizes.set(key, size);
      this.measured++;
      if (size < this.closest.size) this.closest = { strategies: c.ids, constraints: c.constraints, size };
    }
    return size;
  }
}

/** The sets of a level that no other set of it contains. */
function maximal(level: Candidate[]): Candidate[] {
  return level.filter(
    (c) => !level.some((d) => d.ids.length > c.ids.length && c.ids.every((id) => d.ids.includes(id))),
  );
}
