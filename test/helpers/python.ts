/** The real CPython interpreters of this machine, for tests that check pyfloppy against CPython. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Where the interpreters are: pyenv's versions directory, or PYFLOPPY_TEST_PYENV (pointing it at an empty or
 * missing directory hides them, which is how the suite's behaviour without them is checked).
 */
export const PYENV = process.env.PYFLOPPY_TEST_PYENV ?? '/root/.pyenv/versions';

/** How a test names the interpreter it needs in its skip (or, in CI, failure) message. */
export function cpython(spec: string): string {
  return `CPython ${spec} under ${PYENV}`;
}

export interface Interpreter {
  version: string;
  major: number;
  minor: number;
  exe: string;
}

/** Interpreters under /root/.pyenv/versions, oldest first (Python 2 only when asked for). */
export function interpreters(options: { includePython2?: boolean } = {}): Interpreter[] {
  let names: string[];
  try {
    names = fs.readdirSync(PYENV);
  } catch {
    return [];
  }
  return names
    .filter((v) => /^\d+\.\d+\.\d+$/.test(v))
    .map((v) => ({
      version: v,
      major: Number(v.split('.')[0]),
      minor: Number(v.split('.')[1]),
      exe: `${PYENV}/${v}/bin/python`,
    }))
    .filter((i) => options.includePython2 || i.major === 3)
    .filter((i) => fs.existsSync(i.exe))
    .sort((a, b) => a.major - b.major || a.minor - b.minor);
}

/** One interpreter by major.minor ('3.13'), or undefined when this machine lacks it. */
export function interpreter(majorMinor: string): Interpreter | undefined {
  return interpreters({ includePython2: true }).find((i) => `${i.major}.${i.minor}` === majorMinor);
}

/** CPython 3.13 when installed, else the newest 3.x at least 3.`minMinor`. */
export function modernPython(minMinor: number): Interpreter | undefined {
  return (
    interpreter('3.13') ??
    interpreters()
      .filter((i) => i.minor >= minMinor)
      .pop()
  );
}

/** The stdlib directory of an interpreter (sysconfig's 'stdlib'). */
export function stdlibOf(i: Interpreter): string {
  return runPython(i, 'import sysconfig; print(sysconfig.get_paths()["stdlib"])').trim();
}

/** Run code with an interpreter; throws with its stderr on failure. */
export function runPython(i: Interpreter, code: string, args: string[] = [], cwd?: string): string {
  const r = spawnSync(i.exe, ['-c', code, ...args], { encoding: 'utf8', cwd, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${i.exe} failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * Compile a tree at levels 0, 1, 2 with the interpreter's own compileall: one run with -o0 -o1 -o2 where it
 * takes several levels (3.9+), else one run per level under -O / -OO, as distributions did.
 */
export function compileAllLevels(i: Interpreter, dir: string): void {
  const runs =
    i.minor >= 9
      ? [['-m', 'compileall', '-q', '-f', '-o0', '-o1', '-o2', dir]]
      : [[], ['-O'], ['-OO']].map((o) => [...o, '-m', 'compileall', '-q', '-f', dir]);
  for (const args of runs) {
    const r = spawnSync(i.exe, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`compileall failed: ${r.stdout}${r.stderr}`);
  }
}

/** A copy of an interpreter's stdlib sources at `dest`: no __pycache__, no site-packages, symlinks kept as such. */
export function copyStdlibSources(i: Interpreter, dest: string): void {
  fs.cpSync(stdlibOf(i), dest, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (s) => !['__pycache__', 'site-packages'].includes(path.basename(s)),
  });
}
