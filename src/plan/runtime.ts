/**
 * The runtime a plan installs, answered by the tree's interpreter (its caches, its pre-site modules): the
 * plan's side of `Facts.runtime()`. Asked once, and only when a strategy of the plan needs the runtime.
 */
import { buildRuntime, runtimeSource, treeInterpreter } from '../python/runtime.js';
import { stdlibRoot } from '../python/stdlib.js';
import { runtimeRefusal } from '../strategies/runtime-estimate.js';
import { runtimeFiles, type RuntimeAnswer } from '../strategies/runtime.js';

export interface RuntimeOptions {
  /** The tree's interpreter (default: PREFIX/bin/pythonX.Y beside a stdlib tree). */
  python?: string;
  /** false: install no runtime (the markers then do nothing on CPython as it is). */
  runtime?: boolean;
}

export function planRuntime(root: string, dest: string, options: RuntimeOptions): () => RuntimeAnswer {
  let answer: RuntimeAnswer | undefined;
  return () => (answer ??= askInterpreter(root, dest, options));
}

function askInterpreter(root: string, dest: string, options: RuntimeOptions): RuntimeAnswer {
  if (options.runtime === false) return { why: '--no-runtime' };
  const stdlib = stdlibRoot(root);
  const why = runtimeRefusal(stdlib);
  if (why !== undefined) return { why };
  const exe = treeInterpreter(root, stdlib!, options.python);
  const b = buildRuntime(exe, dest, stdlib!);
  const files = runtimeFiles(b.cacheTag, (name) => ({
    source: runtimeSource(name),
    caches: b.caches[name]!,
  }));
  return { files, presite: b.presite, by: `its caches compiled by Python ${b.version}, ${exe}` };
}
