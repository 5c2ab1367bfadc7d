/**
 * pyfloppy's runtime installed by `plan` (src/strategies/runtime.ts) on copies of real stdlibs, judged by
 * the real interpreter, without PYTHONDONTWRITEBYTECODE (the machine sets it: a test about writes unsets it):
 * - the estimate's tables (pre-site modules, cache sizes) are what each CPython 3.7-3.13 here answers;
 * - no-bytecode: zero write attempts under the tree at -O0, -O and -OO (strace on a dozen imports), in the
 *   installation and in a venv made from its interpreter; `--rollback` gives back the exact tree;
 * - drop-optimized+fallback: zero write attempts at -O/-OO, and level-0 code runs there (docstrings kept);
 * - pysources: an uncaught traceback through stdlib code shows its source lines, with the tree moved to the
 *   `--dest` it was planned for (the compile-time path gone), on 3.12 (C excepthook) and 3.13.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { apply, rollback } from '../src/apply/apply.js';
import { plan } from '../src/plan/plan.js';
import { buildRuntime } from '../src/python/runtime.js';
import { PRESITE } from '../src/strategies/runtime.js';
import { RUNTIME_CACHE_DIR, RUNTIME_CACHE_SIZES } from '../src/strategies/runtime-sizes.js';
import { have } from './helpers/need.js';
import { cpython, type Interpreter, interpreter, stdlibOf } from './helpers/python.js';
import { copyTree, fastTempDir, removeTree, snapshot } from './helpers/tree.js';

const LEAVE_OUT = ['test', 'idlelib', 'tkinter', 'turtledemo', 'lib2to3', 'ensurepip', 'site-packages'];
/** A dozen imports, as an application's start makes them. */
const IMPORTS =
  'import json, argparse, email.message, http.client, logging, decimal, asyncio, xml.dom.minidom, csv, unittest, zipfile, sqlite3';

/** A prefix holding a copy of the stdlib (lib/pythonX.Y, with an empty site-packages) and its interpreter. */
function installation(py: Interpreter, version: string): { prefix: string; root: string; exe: string } {
  const prefix = fastTempDir('pyfloppy-rtplan-');
  const root = path.join(prefix, 'lib', `python${version}`);
  fs.mkdirSync(path.dirname(root), { recursive: true });
  copyTree(stdlibOf(py), root, {
    exclude: [...LEAVE_OUT, ...fs.readdirSync(stdlibOf(py)).filter((n) => n.startsWith('config-'))],
  });
  fs.mkdirSync(path.join(root, 'site-packages'));
  // The interpreter in PREFIX/bin finds its prefix there (pyenv builds link libpython statically).
  const exe = path.join(prefix, 'bin', `python${version}`);
  fs.mkdirSync(path.dirname(exe));
  fs.copyFileSync(py.exe, exe);
  fs.chmodSync(exe, 0o755);
  return { prefix, root, exe };
}

/** The environment of a user who never heard of PYTHONDONTWRITEBYTECODE. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...extra };
}

/** Paths under `root` that `exe args` tried to create, write or rename into (strace -f). */
function writesUnder(exe: string, args: string[], root: string, env: NodeJS.ProcessEnv): string[] {
  const log = path.join(fastTempDir('pyfloppy-strace-'), 'log');
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat,mkdir,rename', '-o', log, exe, ...args], {
    encoding: 'utf8',
    env,
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = fs.readFileSync(log, 'utf8').split('\n');
  removeTree(path.dirname(log));
  return lines
    .filter((l) => l.includes(root))
    .filter((l) => /\b(mkdir|rename)\(/.test(l) || /openat\(.*O_(WRONLY|RDWR|CREAT)/.test(l));
}

function haveStrace(): boolean {
  return spawnSync('strace', ['-V']).status === 0;
}

/** Plan (saved outside the tree) and apply, keeping the journal for a rollback. */
async function planApply(strategies: string[], root: string, options: { dest?: string } = {}): Promise<void> {
  const p = await plan({ strategies, path: root, workers: 0, ...options });
  assert.ok(
    p.notes.some((n) => n.startsWith("pyfloppy's runtime is installed")),
    p.notes.join('\n'),
  );
  const dir = fastTempDir('pyfloppy-rtplan-file-');
  const file = path.join(dir, 'plan.json');
  fs.writeFileSync(file, JSON.stringify(p));
  try {
    const r = await apply({ planFile: file, commit: false });
    assert.equal(r.outcome, 'applied', r.failure);
  } finally {
    removeTree(dir);
  }
}

describe("the estimate's runtime tables are what each interpreter answers", () => {
  for (const minor of [7, 8, 9, 10, 11, 12, 13]) {
    it(`3.${minor}: pre-site modules and cache sizes`, (t) => {
      const py = interpreter(`3.${minor}`);
      if (!have(t, py, cpython(`3.${minor}`))) return;
      const b = buildRuntime(py.exe, RUNTIME_CACHE_DIR, { major: 3, minor });
      assert.deepEqual(b.presite, PRESITE[minor], 'PRESITE in src/strategies/runtime.ts');
      const sizes = Object.fromEntries(Object.entries(b.caches).map(([m, c]) => [m, c.map((x) => x.length)]));
      assert.deepEqual(sizes, RUNTIME_CACHE_SIZES[minor], 'run bench/runtime-sizes.sh');
      // Unchecked hash-based caches (flags 0b01): valid whatever mtime apply gives the source.
      for (const c of Object.values(b.caches)) for (const x of c) assert.equal(x.readUInt32LE(4), 1);
    });
  }
});

describe('no-bytecode with the runtime on a copy of the 3.13 stdlib', () => {
  it('no write attempt at -O0, -O, -OO, also in a venv; rollback restores the exact tree', async (t) => {
    const py = interpreter('3.13');
    if (!have(t, py, cpython('3.13')) || !have(t, haveStrace(), 'strace')) return;
    const { prefix, root, exe } = installation(py, '3.13');
    try {
      const before = snapshot(prefix);
      await planApply(['no-bytecode'], root);
      for (const f of ['_pyfloppy_runtime.py', 'site-packages/_pyfloppy_runtime.pth', 'sitecustomize.py'])
        assert.ok(fs.existsSync(path.join(root, f)), f);
      for (const flags of [[], ['-O'], ['-OO']]) {
        const args = [...flags, '-c', `${IMPORTS}; import sys; assert '_pyfloppy_runtime' in sys.modules`];
        assert.deepEqual(writesUnder(exe, args, prefix, userEnv()), [], `python ${flags.join(' ')}`);
      }
      const venv = path.join(prefix, 'venv');
      const made = spawnSync(exe, ['-m', 'venv', '--without-pip', venv], {
        encoding: 'utf8',
        env: userEnv(),
      });
      assert.equal(made.status, 0, made.stderr);
      const vpy = path.join(venv, 'bin', 'python');
      const args = ['-c', `${IMPORTS}; import sys; assert '_pyfloppy_runtime' in sys.modules, sys.prefix`];
      assert.deepEqual(writesUnder(vpy, args, root, userEnv()), [], 'in a venv');
      removeTree(venv);
      const rb = await rollback(root);
      assert.ok(rb.found);
      assert.deepEqual(snapshot(prefix), before, 'rollback gives back the exact tree');
      // The runtime gone, a missing cache is written again: strace sees writes (the test can fail).
      fs.rmSync(path.join(root, 'json', '__pycache__', '__init__.cpython-313.pyc'));
      assert.equal(writesUnder(exe, ['-c', 'import json'], prefix, userEnv()).length, 2, 'open, rename');
    } finally {
      removeTree(prefix);
    }
  });
});

describe('drop-optimized+fallback with the runtime on a copy of the 3.12 stdlib', () => {
  it('no write attempt at -O and -OO, where level-0 code runs', async (t) => {
    const py = interpreter('3.12');
    if (!have(t, py, cpython('3.12')) || !have(t, haveStrace(), 'strace')) return;
    const { prefix, root, exe } = installation(py, '3.12');
    try {
      await planApply(['drop-optimized+fallback'], root);
      assert.equal(
        fs.readdirSync(path.join(root, 'json', '__pycache__')).filter((n) => n.includes('.opt-')).length,
        0,
      );
      for (const flags of [['-O'], ['-OO']]) {
        const args = [...flags, '-c', `${IMPORTS}; import json; assert json.__doc__ is not None`];
        assert.deepEqual(writesUnder(exe, args, prefix, userEnv()), [], `python ${flags.join(' ')}`);
      }
    } finally {
      removeTree(prefix);
    }
  });
});

for (const version of ['3.12', '3.13']) {
  describe(`pysources with the runtime on a copy of the ${version} stdlib, moved to its --dest`, () => {
    it('an uncaught traceback through stdlib code shows its lines', async (t) => {
      const py = interpreter(version);
      if (!have(t, py, cpython(version))) return;
      const { prefix, root, exe } = installation(py, version);
      const moved = `${prefix}-moved`;
      try {
        await planApply(['pysources'], root, { dest: path.join(moved, 'lib', `python${version}`) });
        fs.renameSync(prefix, moved);
        const r = spawnSync(
          path.join(moved, 'bin', path.basename(exe)),
          ['-c', 'import json; json.loads("{")'],
          {
            encoding: 'utf8',
            env: userEnv(),
          },
        );
        assert.equal(r.status, 1);
        assert.match(
          r.stderr,
          /json\/decoder\.py", line \d+, in raw_decode\n\s+obj, end = self\.scan_once\(s, idx\)/,
        );
        assert.ok(!fs.existsSync(path.join(moved, 'lib', `python${version}`, 'json', 'decoder.py')));
      } finally {
        removeTree(prefix);
        removeTree(moved);
      }
    });
  });
}
