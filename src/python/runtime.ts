/**
 * What a plan needs of the target interpreter to install pyfloppy's runtime (python/runtime/) into a
 * stdlib tree: the runtime's caches as that interpreter compiles them (unchecked-hash, naming where the
 * tree will run), and the modules it imports before site runs the runtime's `.pth` (their caches must
 * stay). Asked of python/runtime_build.py, which writes nothing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PyfloppyError } from '../errors.js';
import { workerScript } from './interpreter.js';
import { RUNTIME_MODULES } from './runtime-modules.js';
import type { StdlibRoot } from './stdlib.js';

export interface RuntimeBuild {
  version: string;
  cacheTag: string;
  /** Per module, its caches at levels 0, 1 and 2. */
  caches: Record<string, [Buffer, Buffer, Buffer]>;
  /** Sources (relative to the stdlib directory) of the modules imported before site, at any level. */
  presite: string[];
}

interface BuildJson {
  version: string;
  cacheTag: string;
  stdlib: string;
  caches: Record<string, [string, string, string]>;
  presite: string[][];
}

/** A runtime module's source, as shipped in python/runtime/. */
export function runtimeSource(name: string): Buffer {
  return fs.readFileSync(workerScript(`runtime/${name}.py`));
}

/**
 * The interpreter that compiles the runtime's caches for a stdlib tree: the one given, else
 * PREFIX/bin/pythonX.Y beside the tree (as getpath lays an installation out), else the first pythonX.Y on
 * PATH (a build root whose interpreter is the host's); its version is checked against the tree's.
 */
export function treeInterpreter(root: string, stdlib: StdlibRoot, python?: string): string {
  if (python !== undefined) return python;
  const name = `python${stdlib.major}.${stdlib.minor}`;
  const beside = path.resolve(root, '..', '..', 'bin', name);
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== '');
  const found = [beside, ...dirs.map((d) => path.join(d, name))].find(isExecutable);
  if (found === undefined)
    throw new PyfloppyError(
      'EINTERP',
      `the runtime's caches are compiled by the tree's interpreter: none at ${beside} nor ${name} on PATH`,
      {
        hint: `give the Python ${stdlib.major}.${stdlib.minor} interpreter with --python PATH, or plan with --no-runtime`,
      },
    );
  return found;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Ask the interpreter for the runtime's caches (file names under `dest`) and the pre-site modules. */
export function buildRuntime(
  exe: string,
  dest: string,
  want: { major: number; minor: number },
): RuntimeBuild {
  const r = spawnSync(exe, ['-E', '-s', '-B', workerScript('runtime_build.py'), dest, ...RUNTIME_MODULES], {
    encoding: 'utf8',
    // Why: the presite children inherit the environment; they must not write caches either.
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const out = parsed(r.stdout);
  if (r.error !== undefined || r.status !== 0 || out === undefined) {
    const why = r.error?.message ?? (r.stderr ?? '').trim().split('\n').pop() ?? '';
    throw new PyfloppyError(
      'EINTERP',
      `${exe} could not build the runtime's caches${why ? `: ${why}` : ''}`,
      {
        hint: 'give the interpreter of the tree (3.7 or newer) with --python PATH',
      },
    );
  }
  const [major, minor] = out.version.split('.').map(Number);
  if (major !== want.major || minor !== want.minor)
    throw new PyfloppyError(
      'EINTERP',
      `${exe} is Python ${out.version}, the tree is the library of Python ${want.major}.${want.minor}`,
      { hint: `give the Python ${want.major}.${want.minor} interpreter with --python` },
    );
  return {
    version: out.version,
    cacheTag: out.cacheTag,
    caches: Object.fromEntries(
      Object.entries(out.caches).map(([m, c]) => [m, c.map((b) => Buffer.from(b, 'base64'))]),
    ) as RuntimeBuild['caches'],
    presite: presiteSources(out),
  };
}

function parsed(stdout: string | null): BuildJson | undefined {
  try {
    const j = JSON.parse(stdout ?? '') as BuildJson;
    return typeof j.version === 'string' && Array.isArray(j.presite) ? j : undefined;
  } catch {
    return undefined;
  }
}

/** Pure-Python pre-site modules, by path relative to the interpreter's stdlib, at any level, once each. */
function presiteSources(out: BuildJson): string[] {
  const prefix = `${out.stdlib}/`;
  const rel = out.presite
    .flat()
    .flatMap((o) => (o.startsWith(prefix) && o.endsWith('.py') ? [o.slice(prefix.length)] : []));
  return [...new Set(rel)].sort();
}
