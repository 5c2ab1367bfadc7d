/**
 * What a strategy is: its id, seed reference and risks, and either a layout (a pure function from the model
 * to abstract operations, which both the estimate of `analyze` and the plan of `plan` are made from), the
 * ids it combines, or, for a strategy pyfloppy cannot carry out, an estimate of its own.
 *
 * A layout works on a `Layout`: the model, what earlier strategies of the same composition removed or
 * moved, and `Facts`, what it may know beyond the model (whether a cache is fresh, whether a name exists).
 * The estimate answers those from the model alone; the plan answers them by reading the tree.
 */
import path from 'node:path';
import type { Bytes } from '../model/footprint.js';
import type { Classification } from '../model/classify.js';
import type { EntryTable } from '../scan/table.js';
import type { EstimateContext } from './context.js';
import type { RuntimeAnswer, RuntimeNeed } from './runtime.js';

export interface Risk {
  /** The constraint of seed 001 that the strategy risks, 1 to 5. */
  constraint: 1 | 2 | 3 | 4 | 5;
  why: string;
}

export interface Estimate {
  saved: Bytes;
  /** What the estimate assumed or left out, for people. */
  note?: string;
}

/** A name a layout creates: `name` (one component, or two for `__pysources__/mod.py.gz`) inside `dir`. */
export interface Place {
  dir: number;
  name: string;
}

/**
 * The operations of a layout, on entries of the table: no paths, no fingerprints, no I/O. Sizes of new
 * files are the measured ones (deflated sizes); `src/plan` replaces them by the sizes of the bytes it makes.
 */
export type LayoutOp =
  | { op: 'remove'; entry: number }
  /** Replace `entry` by a hardlink to `target` (byte-identical). */
  | { op: 'link'; entry: number; target: number }
  | { op: 'move'; entry: number; to: Place }
  /**
   * A new file: empty, the gzip of `gzipOf`, the bytecode `relocateOf` naming `filename` (its size from
   * the names' lengths, which the plan checks against the relocated bytes), or `data` (the runtime's files;
   * an estimate knows only their size).
   */
  | {
      op: 'write';
      at: Place;
      mode: number;
      size: number;
      gzipOf?: number;
      relocateOf?: number;
      filename?: string;
      data?: Uint8Array;
    }
  | { op: 'mkdir'; at: Place; mode: number }
  /** An archive at `path` (relative to the root, or `../pythonXY.zip`). */
  | { op: 'zip'; path: string; members: ZipEntry[]; size: number }
  | { op: 'rmdir'; entry: number };

export interface ZipEntry {
  entry: number;
  name: string;
  /** For bytecode: the file its code objects are to name (where zipimport would compile its source). */
  filename?: string;
}

/** What a layout may know beyond the model. */
export interface Facts {
  readonly ctx: EstimateContext;
  /** The cache tag the bytecode layouts act on (null: the tree has no caches). */
  readonly cacheTag: string | null;
  /**
   * The root's absolute path when Python runs the tree (default: where it is now), for the file names that
   * relocated bytecode carries, as compileall's -d.
   */
  readonly dest: string;
  /** Whether an entry may be acted on (its name can go into a plan, it is on the root's device). */
  plannable(i: number): boolean;
  /** Whether a level-0 cache is fresh against its source, as importlib checks it. */
  fresh(cache: number, source: number): boolean;
  /** Whether zipimport would use this level-0 cache (fresh, and its source's time fits a zip). */
  zipFresh(cache: number, source: number): boolean;
  /** Whether a name already exists. */
  exists(at: Place): boolean;
  /** Where the stdlib archive goes (relative to the root), or why it cannot. */
  archive(): { rel: string } | { why: string };
  /** Directories that must stay whatever goes (not read whole, names a plan cannot carry), with notes. */
  pinned(notes: string[]): number[];
  /** pyfloppy's runtime for this tree (src/strategies/runtime.ts), or why it cannot be installed. */
  runtime(): RuntimeAnswer;
}

/** A composition in progress: the operations so far and what they did to the tree. */
export class Layout {
  readonly ops: LayoutOp[] = [];
  readonly notes: string[] = [];
  readonly refused: Array<{ strategy: string; why: string }> = [];
  /** Dotted names of modules removed on purpose (strip-tests). */
  readonly removedModules = new Set<string>();
  /** Directories that get new files (they stay even when everything they had goes). */
  readonly receives = new Set<number>();
  /** Optimization levels whose imports shipped bytecode still serves. */
  shipped = new Set([0, 1, 2]);
  readonly removed: Uint8Array;
  readonly moved: Uint8Array;
  readonly t: EntryTable;
  readonly c: Classification;
  readonly ctx: EstimateContext;
  /** The root's entry. */
  readonly root: number;
  /** 1 where no operation may touch the entry (the caches of modules imported before the runtime). */
  private readonly kept: Uint8Array;

  constructor(
    readonly facts: Facts,
    readonly ids: readonly string[],
  ) {
    this.ctx = facts.ctx;
    this.t = facts.ctx.t;
    this.c = facts.ctx.c;
    this.removed = new Uint8Array(this.t.count);
    this.moved = new Uint8Array(this.t.count);
    this.kept = new Uint8Array(this.t.count);
    this.root = this.t.parent.indexOf(-1);
  }

  ok(i: number): boolean {
    return i !== -1 && this.kept[i] === 0 && this.facts.plannable(i);
  }

  /** Keep an entry as it is, whatever later layouts do. */
  pin(i: number): void {
    this.kept[i] = 1;
  }

  alive(i: number): boolean {
    return i !== -1 && this.removed[i] === 0 && this.moved[i] === 0;
  }

  remove(i: number): void {
    if (!this.alive(i)) return;
    this.removed[i] = 1;
    this.ops.push({ op: 'remove', entry: i });
  }

  rel(i: number): string {
    return this.t.relativePath(i);
  }

  /** Where Python will find a path relative to the root (a name for relocated bytecode). */
  destPath(rel: string): string {
    return path.posix.join(this.facts.dest, rel);
  }

  /** The relative path of a new name. */
  path(at: Place): string {
    const dir = this.rel(at.dir);
    return dir === '' ? at.name : `${dir}/${at.name}`;
  }

  /** Bytecode groups of the cache tag acted on. */
  groupsOfTag(): number[] {
    const b = this.c.bytecode;
    const tagIndex = this.facts.cacheTag === null ? -1 : this.c.tags.indexOf(this.facts.cacheTag);
    const out: number[] = [];
    for (let g = 0; g < b.count; g++) if (b.tag[g] === tagIndex) out.push(g);
    return out;
  }

  /** The entry of a group's cache at an optimization level, or -1. */
  level(g: number, l: number): number {
    return this.c.bytecode.levels[3 * g + l]!;
  }
}

interface Described {
  id: string;
  title: string;
  /** Where in the seeds it comes from. */
  seedRef: string;
  risks: Risk[];
  /** Whether pyfloppy can carry it out on an unmodified CPython (the plan/apply commands). */
  actionable: boolean;
  /** For the estimate: what it assumed or left out. */
  note?: string | ((ctx: EstimateContext) => string | undefined);
}

/** A strategy `plan` carries out. */
export interface Carried extends Described {
  kind: 'layout';
  /** Its place when several compose (earlier ones decide what later ones see). */
  rank: number;
  layout(l: Layout): void;
  /** A strategy that does all this one does: with it in the same plan, this one is left out. */
  subsumedBy?: string;
  /** Strategies it cannot be combined with, and why. */
  conflicts?: Record<string, string>;
  /** What it needs of pyfloppy's runtime, if anything (the plan installs it). */
  runtime?: RuntimeNeed;
}

/** A named combination of carried strategies (or of none). */
export interface Combined extends Described {
  kind: 'parts';
  parts: string[];
  /** Why `plan` refuses it, when it does. */
  refusal?: string;
}

/** A strategy pyfloppy cannot carry out: an estimate of its own, and why `plan` refuses it. */
export interface Estimated extends Described {
  kind: 'estimate';
  refusal: string;
  estimate(ctx: EstimateContext): Bytes;
}

export type Strategy = Carried | Combined | Estimated;
