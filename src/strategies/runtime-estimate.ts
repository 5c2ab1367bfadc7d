/**
 * The runtime as an estimate sees it, from the model alone, to the byte: the sources' sizes, the caches'
 * from RUNTIME_CACHE_SIZES (what each CPython here compiles for /pyfloppy, bench/runtime-sizes.sh) with the
 * file name they carry changed to the tree's (relocatedSize; where an unpacked root file system or an image
 * installs it), the pre-site modules from PRESITE.
 */
import fs from 'node:fs';
import path from 'node:path';
import { workerScript } from '../python/interpreter.js';
import { relocatedSize } from '../python/relocate.js';
import { STDLIB_NAME } from '../python/stdlib.js';
import type { EstimateContext } from './context.js';
import { PRESITE, runtimeFiles, type RuntimeAnswer } from './runtime.js';
import { RUNTIME_CACHE_DIR, RUNTIME_CACHE_SIZES } from './runtime-sizes.js';
import { stdlibDirs } from './zip.js';

/** python/runtime/NAME.py's size. */
function sourceSize(name: string): number {
  return fs.statSync(workerScript(`runtime/${name}.py`)).size;
}

/**
 * The root's Python version when it is a stdlib directory, from the model alone (an image's tree is not on
 * disk): named pythonX.Y[t], with getpath's landmark os.py (or os.pyc) directly in it.
 */
function stdlibVersion(ctx: EstimateContext): { major: number; minor: number } | null {
  const m = STDLIB_NAME.exec(path.basename(ctx.rootPath));
  const root = ctx.t.parent.indexOf(-1);
  if (m === null || root === -1 || stdlibDirs(ctx.t, ctx.c)[root] !== 1) return null;
  return { major: Number(m[1]), minor: Number(m[2]) };
}

export function estimatedRuntime(ctx: EstimateContext): RuntimeAnswer {
  const stdlib = stdlibVersion(ctx);
  const why = runtimeRefusal(stdlib);
  if (why !== undefined) return { why };
  const tag = `cpython-${stdlib!.major}${stdlib!.minor}`;
  const sizes = RUNTIME_CACHE_SIZES[stdlib!.minor]!;
  const files = runtimeFiles(tag, (name) => ({
    source: sourceSize(name),
    caches: sizes[name]!.map((size) =>
      relocatedSize(size, `${RUNTIME_CACHE_DIR}/${name}.py`, `${ctx.installedPath}/${name}.py`),
    ),
  }));
  return {
    files,
    presite: PRESITE[stdlib!.minor]!,
    by: 'estimated',
  };
}

/** Why the runtime cannot go into a tree: not a stdlib directory, or a Python before 3.7. */
export function runtimeRefusal(stdlib: { major: number; minor: number } | null): string | undefined {
  if (stdlib === null) return 'it goes into a stdlib directory (lib/pythonX.Y), and this tree is not one';
  if (
    stdlib.major !== 3 ||
    PRESITE[stdlib.minor] === undefined ||
    RUNTIME_CACHE_SIZES[stdlib.minor] === undefined
  )
    return `Python ${stdlib.major}.${stdlib.minor}: the runtime supports 3.7 to 3.13`;
  return undefined;
}
