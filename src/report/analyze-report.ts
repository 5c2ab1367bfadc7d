/**
 * The analyze report as data: the versioned JSON document (schema pyfloppy.analyze/1) that the library
 * returns and every output format renders. Pure: built from a Model.
 */

import { type Bytes, type KindTotals, moduleKey, type Tally } from '../model/footprint.js';
import type { BytecodeIdentity } from '../model/identity.js';
import type { ImageInfo } from '../image/layers.js';
import type { PackageInfo } from '../package/target.js';
import type { Model } from '../model/model.js';
import type { InterpreterInfo } from '../python/interpreter.js';
import type { Baseline, StrategyEstimate } from '../strategies/estimate.js';
import { VERSION } from '../version.js';

export const ANALYZE_SCHEMA = 'pyfloppy.analyze/1';

export interface RootReport extends Bytes {
  /** The path as given. */
  path: string;
  /** The directory, symlinks in the root's own path resolved. */
  realPath: string;
  /** 'stdlib', 'purelib', ... for interpreter targets; the path for directories given by hand. */
  labels: string[];
  /** The realPath of the root this one lies inside, whose totals exclude this one's; null if none. */
  insideRoot: string | null;
  /** Paths counted (files, directories, symlinks). */
  entries: number;
  totals: KindTotals;
}

export interface ModuleReport extends Bytes {
  /** The top-level module ('email', 'numpy'); '' for sys.path directories themselves. */
  name: string;
  /** The realPath of the root it belongs to. */
  root: string;
  /** Inodes counted. */
  files: number;
  /** Whether the whole module is test code (test, tests, idle_test). */
  test: boolean;
  kinds: KindTotals;
  /** Test code inside the module (e.g. lib2to3/tests), included in its totals. */
  testBytes: Bytes;
}

export interface DistributionReport extends Bytes {
  name: string;
  version: string;
  root: string;
  files: number;
}

export interface AnalyzeReport {
  schema: typeof ANALYZE_SCHEMA;
  generator: { name: 'pyfloppy'; version: string };
  interpreter: InterpreterInfo | null;
  roots: RootReport[];
  /** Per kind, each inode once, under the lowest kind of its paths. */
  totals: KindTotals;
  /** All kinds together: equals du --apparent-size -sb and du -sB1 over the roots. */
  grandTotal: Bytes & { entries: number; inodes: number };
  /** What existing hardlinks inside the roots already save: the extra paths' bytes, had they been copies. */
  hardlinkSavedBytes: Bytes & { extraPaths: number };
  /** Test code (inside test, tests, idle_test packages), included in the totals. */
  test: Bytes & { files: number };
  /** Top-level modules, biggest (allocated) first. */
  modules: ModuleReport[];
  /** Distributions found through dist-info / egg-info, biggest first. */
  distributions: DistributionReport[];
  bytecode: Omit<BytecodeIdentity, 'unreadable'>;
  /** What strategy percentages are of: the whole tree, or the subset given (e.g. python3-libs-like). */
  baseline: Baseline | null;
  /** Every seed strategy's estimate on this tree ([] when estimates were not asked for). */
  strategies: StrategyEstimate[];
  /** Interpreter paths that do not exist and were skipped. */
  skippedPaths: Array<{ label: string; path: string }>;
  /** Unreadable directories and files: reported, skipped, not fatal. */
  problems: Array<{ path: string; code: string; message: string }>;
  /**
   * For a container image (absent otherwise): format, platform, the interpreter's version as the image tells
   * it, the layer table, and the note that bytes are apparent only (allocated bytes are 0).
   */
  image?: ImageInfo;
  /**
   * For a package or bundle (wheel, zip, tar, rpm, deb; absent otherwise): its kind, compression, size as
   * shipped, and (analyze) its compressed size after each strategy, estimated, and a wheel's install caches.
   */
  package?: PackageInfo;
}

function bytesOf(t: Tally): Bytes & { files: number } {
  return t.sum();
}

export function buildAnalyzeReport(
  model: Model,
  estimates?: { baseline: Baseline; strategies: StrategyEstimate[] },
): AnalyzeReport {
  const { scan, footprint: fp, identity } = model;
  const all = fp.all.sum();
  const { unreadable: _unreadable, ...bytecode } = identity.summary;
  return {
    schema: ANALYZE_SCHEMA,
    generator: { name: 'pyfloppy', version: VERSION },
    interpreter: model.interpreter,
    roots: rootReports(model),
    totals: fp.all.totals(),
    grandTotal: {
      entries: scan.table.count,
      inodes: all.files,
      apparentBytes: all.apparentBytes,
      allocatedBytes: all.allocatedBytes,
    },
    hardlinkSavedBytes: fp.hardlinks,
    test: bytesOf(fp.test),
    modules: moduleReports(model),
    distributions: distributionReports(model),
    bytecode,
    baseline: estimates?.baseline ?? null,
    strategies: estimates?.strategies ?? [],
    skippedPaths: model.skippedPaths,
    problems: model.problems,
    ...(model.image === undefined ? {} : { image: model.image }),
    ...(model.package === undefined ? {} : { package: model.package }),
  };
}

function rootReports({ scan, footprint: fp }: Model): RootReport[] {
  return scan.roots.map((r, k) => {
    const tally = fp.perRoot[k]!;
    const s = tally.sum();
    const totals = tally.totals();
    let entries = 0;
    for (const v of Object.values(totals)) entries += v.paths;
    return {
      path: r.path,
      realPath: r.realPath,
      labels: r.labels,
      insideRoot: r.insideRoot === -1 ? null : scan.roots[r.insideRoot]!.realPath,
      entries,
      apparentBytes: s.apparentBytes,
      allocatedBytes: s.allocatedBytes,
      totals,
    };
  });
}

/** Modules by size, largest first; a module whose bytes are all test code is marked `test`. */
function moduleReports({ scan, classification: c, footprint: fp }: Model): ModuleReport[] {
  const tops = c.topNames.length;
  const modules: ModuleReport[] = [];
  for (const [key, tally] of fp.perModule) {
    const { root, top } = moduleKey(key, tops);
    const s = tally.sum();
    const testTally = fp.testPerModule.get(key);
    const ts = testTally === undefined ? { apparentBytes: 0, allocatedBytes: 0 } : bytesOf(testTally);
    modules.push({
      name: top === -1 ? '' : c.topNames[top]!,
      root: scan.roots[root]!.realPath,
      files: s.files,
      test:
        testTally !== undefined &&
        ts.allocatedBytes === s.allocatedBytes &&
        ts.apparentBytes === s.apparentBytes,
      apparentBytes: s.apparentBytes,
      allocatedBytes: s.allocatedBytes,
      kinds: tally.totals(),
      testBytes: { apparentBytes: ts.apparentBytes, allocatedBytes: ts.allocatedBytes },
    });
  }
  return modules.sort(
    (a, b) => b.allocatedBytes - a.allocatedBytes || b.apparentBytes - a.apparentBytes || cmp(a.name, b.name),
  );
}

function distributionReports({ scan, classification: c, footprint: fp }: Model): DistributionReport[] {
  const distributions: DistributionReport[] = c.distributions.map((d, k) => {
    const s = fp.perDistribution[k]!.sum();
    return {
      name: d.name,
      version: d.version,
      root: scan.roots[scan.table.root[d.entry]!]!.realPath,
      files: s.files,
      apparentBytes: s.apparentBytes,
      allocatedBytes: s.allocatedBytes,
    };
  });
  return distributions.sort((a, b) => b.allocatedBytes - a.allocatedBytes || cmp(a.name, b.name));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
