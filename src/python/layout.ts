/**
 * How CPython names files on disk (PEP 3147 / PEP 488 cache names, extension module suffixes), as pure
 * functions of a name. Reference: importlib._bootstrap_external (cache_from_source, source_from_cache,
 * EXTENSION_SUFFIXES) and compileall.
 */

export interface CacheName {
  /** The module's own name, e.g. 'os' for 'os.cpython-313.opt-1.pyc'. */
  module: string;
  /** The cache tag, e.g. 'cpython-313' (sys.implementation.cache_tag). */
  tag: string;
  /** The optimization level: 0 for NAME.TAG.pyc, N for NAME.TAG.opt-N.pyc. */
  level: number;
}

const OPT_RE = /\.opt-(\d+)$/;

/**
 * Parse a file name found in a __pycache__ directory: NAME.TAG.pyc or NAME.TAG.opt-N.pyc, where TAG has no
 * dot (cpython-313, cpython-313t, pypy310) and NAME is everything before it. Undefined if it is not one.
 */
export function parseCacheName(name: string): CacheName | undefined {
  if (!name.endsWith('.pyc')) return undefined;
  let stem = name.slice(0, -4);
  let level = 0;
  const m = OPT_RE.exec(stem);
  if (m !== null) {
    level = Number(m[1]);
    // importlib only writes opt-1 and opt-2 (an empty optimization string means level 0: no 'opt-0').
    if (level !== 1 && level !== 2) return undefined;
    stem = stem.slice(0, m.index);
  }
  const dot = stem.lastIndexOf('.');
  if (dot <= 0 || dot === stem.length - 1) return undefined;
  return { module: stem.slice(0, dot), tag: stem.slice(dot + 1), level };
}

/** The module name of an extension module file ('_json' for '_json.cpython-313-x86_64-linux-gnu.so'), or undefined. */
export function extensionModuleName(name: string): string | undefined {
  if (!(name.endsWith('.so') || name.endsWith('.pyd'))) return undefined;
  const dot = name.indexOf('.');
  return name.slice(0, dot);
}

/** Directory names that are sys.path entries rather than packages: module names restart below them. */
export function isSysPathDirName(name: string): boolean {
  return (
    name === 'site-packages' ||
    name === 'dist-packages' ||
    name === 'lib-dynload' ||
    /^python\d+\.\d+t?$/.test(name)
  );
}

/** Whether a directory holds distribution metadata (PEP 376 / setuptools). */
export function isMetadataDirName(name: string): boolean {
  return name.endsWith('.dist-info') || name.endsWith('.egg-info');
}

/** Package names that hold test code (the stdlib's test package, tests of third-party packages, IDLE's). */
export function isTestDirName(name: string): boolean {
  return name === 'test' || name === 'tests' || name === 'idle_test';
}
