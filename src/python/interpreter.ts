/**
 * Interpreter discovery: ask the *target* interpreter about itself (version, cache tag, magic number,
 * sysconfig paths) by running python/describe.py. The only place (with the worker scripts to come) that
 * starts an interpreter.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PyfloppyError } from '../errors.js';

export interface InterpreterInfo {
  /** What the user named (or 'python3'). */
  requested: string;
  /** sys.executable. */
  executable: string;
  version: string;
  implementation: string;
  /** sys.implementation.cache_tag; null on Python 2. */
  cacheTag: string | null;
  /** importlib.util.MAGIC_NUMBER as hex, e.g. 'f30d0d0a'. */
  magic: string | null;
  prefix: string;
  extensionSuffixes: string[];
  paths: { stdlib: string | null; platstdlib: string | null; purelib: string | null; platlib: string | null };
}

/** python/describe.py, found relative to this module in both the source tree and the built package. */
export function workerScript(name: string): string {
  // dist/src/python/interpreter.js -> ../../../python/NAME
  return fileURLToPath(new URL(`../../../python/${name}`, import.meta.url));
}

export function describeInterpreter(exe: string): InterpreterInfo {
  // -E: ignore PYTHON* variables (a PYTHONPATH must not change what is described); -s: no user site.
  // -B: the probe's imports (json, sysconfig, importlib.util) must not write caches into the library it
  // describes, which may be the very tree being verified or minimized. Not -I: Python 2.7 does not have it.
  const r = spawnSync(exe, ['-E', '-s', '-B', workerScript('describe.py')], {
    encoding: 'utf8',
    // Why: -E makes the interpreter ignore this; it is here for a wrapper script that starts another Python.
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new PyfloppyError('EINTERP', `interpreter not found: ${exe}`, {
        hint:
          exe === 'python3'
            ? 'install Python 3 or name one with --python PATH'
            : 'give the path of a Python executable',
      });
    }
    if (code === 'EACCES') throw new PyfloppyError('EINTERP', `cannot run ${exe}: permission denied`);
    throw new PyfloppyError('EINTERP', `cannot run ${exe}: ${r.error.message}`);
  }
  let info: Omit<InterpreterInfo, 'requested'> | undefined;
  if (r.status === 0) {
    try {
      info = JSON.parse(r.stdout) as Omit<InterpreterInfo, 'requested'>;
    } catch {
      info = undefined;
    }
  }
  if (info === undefined || typeof info.version !== 'string') {
    const why = (r.stderr ?? '').trim().split('\n').pop() ?? '';
    throw new PyfloppyError('EINTERP', `not a working Python interpreter: ${exe}${why ? ` (${why})` : ''}`, {
      hint: 'give the path of a Python executable, e.g. /usr/bin/python3.12',
    });
  }
  return { requested: exe, ...info };
}
