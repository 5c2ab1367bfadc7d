/**
 * What the hostile-tree tests share: a stdlib-shaped tree with a `json` package, a digest of a directory that
 * any change shows in (paths, inodes, link counts, modes, bytes, directories), swapping a directory of the tree
 * for a symlink, and running the CLI in the background to stop or kill it midway.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN } from './cli.js';
import { compileAllLevels, type Interpreter } from './python.js';
import { copyTree, snapshot, writeTree } from './tree.js';

/**
 * A tree shaped as a stdlib (os.py at the top, packages compiled at levels 0-2 by `py`), with a `json`
 * package whose files every bytecode strategy touches. `modules` sets its size (operations scale with it).
 */
export function hostileTree(py: Interpreter, root: string, modules = 40): void {
  const files: Record<string, string> = { 'os.py': 'SEP = "/"\n' };
  for (const name of ['__init__', 'decoder', 'encoder', 'scanner', 'tool'])
    files[`json/${name}.py`] = `"""json.${name}."""\nVALUE = ${JSON.stringify(name)}\n`;
  for (let m = 0; m < modules; m++) {
    const dir = `p${m % 10}${m % 3 === 0 ? '/tests' : ''}`;
    files[`${dir}/__init__.py`] = '';
    files[`${dir}/m${m}.py`] = `${m % 4 === 0 ? '"""Doc."""\n' : ''}x = ${m}\n`;
  }
  writeTree(root, files);
  compileAllLevels(py, root);
}

/** Everything about a directory that a change would show: files (inode, links, mode, bytes) and directories. */
export function digest(dir: string): string {
  const dirs: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) {
        dirs.push(path.relative(dir, path.join(d, e.name)));
        walk(path.join(d, e.name));
      }
  };
  walk(dir);
  return JSON.stringify({ files: [...snapshot(dir)].sort(), dirs: dirs.sort() });
}

/**
 * Replace the directory `rel` of `tree` by a symlink to a directory outside. 'moved': the real directory is
 * moved out and the symlink points at it (every fingerprint still matches). 'decoy': the symlink points at a
 * copy, and the real directory is moved aside outside too. Returns the outside directories to digest.
 */
export function swapForSymlink(tree: string, rel: string, outside: string, how: 'moved' | 'decoy'): string[] {
  const real = path.join(tree, rel);
  const moved = path.join(outside, `${path.basename(rel)}-moved`);
  fs.mkdirSync(outside, { recursive: true });
  fs.renameSync(real, moved);
  if (how === 'moved') {
    fs.symlinkSync(moved, real);
    return [moved];
  }
  const decoy = path.join(outside, `${path.basename(rel)}-decoy`);
  copyTree(moved, decoy);
  fs.symlinkSync(decoy, real);
  return [moved, decoy];
}

/** Move `dir` out of the tree to `to` and leave a symlink to `target` (default: where it went) in its place. */
export function swap(dir: string, to: string, target = to): void {
  fs.renameSync(dir, to);
  fs.symlinkSync(target, dir);
}

/** A pid that no process has now: one that just ended. */
export function deadPid(): number {
  return spawnSync('true').pid;
}

/** Undo swapForSymlink: the symlink goes, the real directory comes back. */
export function unswap(tree: string, rel: string, outside: string): void {
  fs.unlinkSync(path.join(tree, rel));
  fs.renameSync(path.join(outside, `${path.basename(rel)}-moved`), path.join(tree, rel));
}

/**
 * Start the CLI in the background and wait until `file` appears (its journal or its lock), polling every
 * millisecond; then `act` is called with the child (to SIGSTOP or SIGKILL it). Resolves with the child and a
 * promise of its exit code (null when killed).
 */
export function whenAppears(
  args: string[],
  file: string,
  act: (child: ChildProcess) => void,
): Promise<{ child: ChildProcess; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: 'ignore',
    env: { ...process.env, NO_COLOR: '1' },
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (fs.existsSync(file)) {
        clearInterval(poll);
        act(child);
        resolve({ child, exit });
      }
    }, 1);
    void exit.then(() => {
      clearInterval(poll);
      if (!fs.existsSync(file)) reject(new Error(`${args.join(' ')} ended before ${file} appeared`));
    });
  });
}

/** Wait until `done()` holds, polling every 2 ms; throws after `ms`. */
export async function waitFor(done: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
}
