/**
 * The runtime of issue 13 (python/runtime/): per interpreter 3.7-3.13, real files in a temporary directory,
 * PYTHONDONTWRITEBYTECODE unset in every child (it would hide write attempts). The runtime is activated as a
 * tree activates it: `_pyfloppy_runtime.pth` read by site (here by `site.addsitedir()`, the function site
 * uses for site-packages), with the runtime's own caches compiled beforehand as unchecked-hash pycs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { have } from './helpers/need.js';
import { cpython, type Interpreter, interpreter } from './helpers/python.js';

const RUNTIME = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../python/runtime');
const VERSIONS = ['3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13'];

function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.PYTHONDONTWRITEBYTECODE;
  delete e.PYTHONOPTIMIZE;
  delete e.PYTHONPYCACHEPREFIX;
  return e;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function py(i: Interpreter, args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(i.exe, args, { cwd, encoding: 'utf8', env: { ...env(), ...extraEnv } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: Run): string {
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Every file and directory below root, relative, sorted. */
function listing(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).sort();
}

/**
 * A tree: `sp/` holds the runtime, its .pth and its caches (unchecked-hash, levels 0-2); `lib/` is where the
 * test modules go. Returns the directory.
 */
function tree(i: Interpreter): { root: string; sp: string; lib: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `pyfloppy-runtime-${i.minor}-`));
  const sp = path.join(root, 'sp');
  const lib = path.join(root, 'lib');
  fs.mkdirSync(sp);
  fs.mkdirSync(lib);
  fs.copyFileSync(path.join(RUNTIME, '_pyfloppy_runtime.py'), path.join(sp, '_pyfloppy_runtime.py'));
  fs.writeFileSync(path.join(sp, '_pyfloppy_runtime.pth'), 'import _pyfloppy_runtime\n');
  ok(
    py(
      i,
      [
        '-c',
        'import py_compile, sys\n' +
          'for o in (0, 1, 2):\n' +
          '    py_compile.compile(sys.argv[1], optimize=o, doraise=True,\n' +
          '        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)',
        path.join(sp, '_pyfloppy_runtime.py'),
      ],
      root,
    ),
  );
  return { root, sp, lib };
}

/** Python code: activate the runtime through its .pth (unless `runtime` is false), then run `body`. */
function script(t: { sp: string; lib: string }, body: string, runtime = true): string {
  return (
    'import sys, site\n' +
    (runtime ? `site.addsitedir(${JSON.stringify(t.sp)})\n` : '') +
    (runtime ? "assert '_pyfloppy_runtime' in sys.modules\n" : '') +
    `sys.path.insert(0, ${JSON.stringify(t.lib)})\n` +
    body
  );
}

function cacheName(i: Interpreter, mod: string, level: number): string {
  return `${mod}.cpython-3${i.minor}${level ? `.opt-${level}` : ''}.pyc`;
}

/** Lines of an strace log that try to write under `root`: an open for writing, a mkdir, a rename. */
function writeAttempts(log: string, root: string): string[] {
  return log
    .split('\n')
    .filter((l) => l.includes(root))
    .filter(
      (l) => /\b(mkdir|mkdirat|rename|renameat2?)\(/.test(l) || /open(at)?\(.*O_(WRONLY|RDWR|CREAT)/.test(l),
    );
}

function haveStrace(): boolean {
  return spawnSync('strace', ['-V'], { encoding: 'utf8' }).status === 0;
}

for (const v of VERSIONS) {
  describe(`runtime on CPython ${v}`, () => {
    const i = interpreter(v);

    it('__dont_write_bytecode__: a missing cache is not written, nor attempted; without it, it is', (t) => {
      if (!have(t, i, cpython(v))) return;
      const tr = tree(i);
      try {
        fs.writeFileSync(path.join(tr.lib, 'plain.py'), 'X = 1\n');
        fs.mkdirSync(path.join(tr.lib, 'pkg', '__pycache__'), { recursive: true });
        fs.writeFileSync(path.join(tr.lib, 'pkg', '__init__.py'), '');
        fs.writeFileSync(path.join(tr.lib, 'pkg', 'mod.py'), 'Y = 2\n');
        fs.writeFileSync(path.join(tr.lib, 'pkg', '__pycache__', '__dont_write_bytecode__'), '');
        const before = listing(tr.root);
        for (const level of [[], ['-O'], ['-OO']]) {
          ok(py(i, [...level, '-c', script(tr, 'import pkg.mod; assert pkg.mod.Y == 2')], tr.root));
        }
        assert.deepEqual(listing(tr.root), before, 'nothing written with the marker');
        if (haveStrace()) {
          const log = path.join(os.tmpdir(), `pyfloppy-strace-${process.pid}-${v}.log`);
          try {
            const code = script(tr, 'import pkg.mod');
            const r = spawnSync(
              'strace',
              [
                '-f',
                '-qq',
                '-e',
                'trace=open,openat,mkdir,mkdirat,rename,renameat,renameat2',
                '-o',
                log,
                i.exe,
              ],
              { input: code, encoding: 'utf8', env: env(), cwd: tr.root },
            );
            assert.equal(r.status, 0, r.stderr);
            const text = fs.readFileSync(log, 'utf8');
            assert.ok(text.includes(path.join(tr.lib, 'pkg', 'mod.py')), 'strace saw the import');
            assert.deepEqual(writeAttempts(text, path.join(tr.lib, 'pkg')), []);
          } finally {
            fs.rmSync(log, { force: true });
          }
        }
        // The control: the same import of a module without the marker writes its cache.
        ok(py(i, ['-c', script(tr, 'import plain')], tr.root));
        assert.ok(
          fs.existsSync(path.join(tr.lib, '__pycache__', cacheName(i, 'plain', 0))),
          'written without it',
        );
        // And the runtime, without the marker, lets importlib write as before.
        fs.rmSync(path.join(tr.lib, 'pkg', '__pycache__', '__dont_write_bytecode__'));
        ok(py(i, ['-c', script(tr, 'import pkg.mod')], tr.root));
        assert.ok(fs.existsSync(path.join(tr.lib, 'pkg', '__pycache__', cacheName(i, 'mod', 0))));
      } finally {
        fs.rmSync(tr.root, { recursive: true, force: true });
      }
    });

    it('__optimization_fallback__: -O and -OO load the next lower level present, write nothing', (t) => {
      if (!have(t, i, cpython(v))) return;
      const tr = tree(i);
      try {
        const src = path.join(tr.lib, 'fb.py');
        // __debug__ is folded at compile time: True only in the level-0 code.
        fs.writeFileSync(src, '"""doc"""\nDEBUG = __debug__\n');
        const compile = (level: number) =>
          ok(
            py(
              i,
              ['-c', `import py_compile, sys; py_compile.compile(sys.argv[1], optimize=${level})`, src],
              tr.root,
            ),
          );
        compile(0);
        const cache = path.join(tr.lib, '__pycache__');
        const probe = script(tr, 'import fb; print(fb.DEBUG, fb.__doc__)');
        // Without the marker, -O compiles and writes opt-1 (the control).
        assert.equal(ok(py(i, ['-O', '-c', probe], tr.root)).trim(), 'False doc');
        assert.ok(fs.existsSync(path.join(cache, cacheName(i, 'fb', 1))));
        fs.rmSync(path.join(cache, cacheName(i, 'fb', 1)));
        fs.writeFileSync(path.join(cache, '__optimization_fallback__'), '');
        const before = listing(tr.root);
        assert.equal(ok(py(i, ['-O', '-c', probe], tr.root)).trim(), 'True doc', '-O ran the plain cache');
        assert.equal(ok(py(i, ['-OO', '-c', probe], tr.root)).trim(), 'True doc', '-OO ran the plain cache');
        assert.deepEqual(listing(tr.root), before, 'nothing written');
        compile(1);
        assert.equal(ok(py(i, ['-OO', '-c', probe], tr.root)).trim(), 'False doc', '-OO ran opt-1');
        assert.equal(ok(py(i, ['-c', probe], tr.root)).trim(), 'True doc', '-O0 is untouched');
        // A stale lower level is not used: the source is compiled at the running level and written where
        // importlib writes it (opt-2), never over the lower level.
        const plain = fs.readFileSync(path.join(cache, cacheName(i, 'fb', 0)));
        const future = new Date(Date.now() + 10_000);
        fs.writeFileSync(src, '"""doc"""\nDEBUG = __debug__\nNEW = 1\n');
        fs.utimesSync(src, future, future);
        assert.equal(ok(py(i, ['-OO', '-c', probe], tr.root)).trim(), 'False None');
        assert.ok(fs.existsSync(path.join(cache, cacheName(i, 'fb', 2))), 'opt-2 written');
        assert.deepEqual(
          fs.readFileSync(path.join(cache, cacheName(i, 'fb', 0))),
          plain,
          'level 0 untouched',
        );
      } finally {
        fs.rmSync(tr.root, { recursive: true, force: true });
      }
    });

    it('__pysources__: traceback, linecache, inspect and an uncaught exception show the source', (t) => {
      if (!have(t, i, cpython(v))) return;
      const tr = tree(i);
      try {
        const pkg = path.join(tr.lib, 'sl');
        fs.mkdirSync(pkg);
        const sources: Record<string, string> = {
          '__init__.py': '"""the package"""\n',
          'gz.py': '# -*- coding: latin-1 -*-\ndef f():\n    raise ValueError("boom \xe9")\n',
          'plain.py': 'def g():\n    return 1 / 0\n',
        };
        for (const [name, text] of Object.entries(sources))
          fs.writeFileSync(path.join(pkg, name), Buffer.from(text, name === 'gz.py' ? 'latin1' : 'utf8'));
        // The layout: level 0 moved to sl/mod.pyc with co_filename the .py path, the source removed and kept
        // in __pysources__ (gzip for gz and __init__, plain for plain).
        ok(
          py(
            i,
            [
              '-c',
              'import py_compile, sys, os, gzip, shutil\n' +
                'd = sys.argv[1]\n' +
                'os.mkdir(os.path.join(d, "__pysources__"))\n' +
                'for n in ("__init__", "gz", "plain"):\n' +
                '    s = os.path.join(d, n + ".py")\n' +
                '    py_compile.compile(s, cfile=s + "c", dfile=s, doraise=True)\n' +
                '    if n == "plain":\n' +
                '        shutil.move(s, os.path.join(d, "__pysources__", n + ".py"))\n' +
                '    else:\n' +
                '        with open(s, "rb") as f, gzip.open(os.path.join(d, "__pysources__", n + ".py.gz"), "wb") as g:\n' +
                '            g.write(f.read())\n' +
                '        os.unlink(s)\n',
              pkg,
            ],
            tr.root,
          ),
        );
        const probe = script(
          tr,
          'import traceback, linecache, inspect, sl, sl.gz, sl.plain\n' +
            'try:\n    sl.gz.f()\nexcept ValueError:\n    print(traceback.format_exc().strip().splitlines()[-2].strip())\n' +
            'print(linecache.getline(sl.plain.g.__code__.co_filename, 2, sl.plain.__dict__).strip())\n' +
            'print(inspect.getsource(sl.plain.g).splitlines()[0])\n' +
            'print(inspect.getsource(sl).strip())\n' +
            'sl.plain.g()\n',
        );
        const r = py(i, ['-c', probe], tr.root, { PYTHONIOENCODING: 'utf-8' });
        assert.notEqual(r.status, 0);
        assert.deepEqual(r.stdout.trim().split('\n'), [
          'raise ValueError("boom \u00e9")',
          'return 1 / 0',
          'def g():',
          '"""the package"""',
        ]);
        assert.match(r.stderr, /plain\.py", line 2, in g\n\s+return 1 \/ 0\n/, 'the uncaught traceback');
        if (i.minor >= 11) {
          // 3.11+ freezes os: its __file__ names the stdlib's os.py, which a layout moves. Pointed at this tree
          // (with __pysources__/os.py.gz there), FrozenImporter.get_source answers from __pysources__.
          fs.writeFileSync(path.join(pkg, '__pysources__', 'os.py'), '# the moved os\n');
          const frozen = script(
            tr,
            'import os, importlib.machinery as m\n' +
              `os.__file__ = ${JSON.stringify(path.join(pkg, 'os.py'))}\n` +
              "print(m.FrozenImporter.get_source('os').strip())\n",
          );
          assert.equal(ok(py(i, ['-c', frozen], tr.root)).trim(), '# the moved os');
          fs.rmSync(path.join(pkg, '__pysources__', 'os.py'));
        }
        // Without the runtime: no source anywhere (so the test above can fail).
        const bare = py(i, ['-c', script(tr, 'import sl.plain\nsl.plain.g()\n', false)], tr.root);
        assert.doesNotMatch(bare.stderr, /return 1 \/ 0/);
        assert.deepEqual(fs.readdirSync(pkg).sort(), [
          '__init__.pyc',
          '__pysources__',
          'gz.pyc',
          'plain.pyc',
        ]);
      } finally {
        fs.rmSync(tr.root, { recursive: true, force: true });
      }
    });

    it('a venv without system site-packages: the .pth is not read, sitecustomize activates the runtime', (t) => {
      if (!have(t, i, cpython(v))) return;
      const tr = tree(i);
      try {
        const venv = path.join(tr.root, 'venv');
        ok(py(i, ['-m', 'venv', '--without-pip', venv], tr.root));
        const vpy: Interpreter = { ...i, exe: path.join(venv, 'bin', 'python') };
        // The base site-packages, where the .pth goes, is not on a venv's sys.path, so its .pth never runs.
        const base = ok(py(i, ['-c', 'import site; print(site.getsitepackages()[0])'], tr.root)).trim();
        const paths = ok(py(vpy, ['-c', 'import sys; print("\\n".join(sys.path))'], tr.root)).split('\n');
        assert.ok(!paths.includes(base), `${base} not on the venv's sys.path`);
        // The stdlib directory is: sitecustomize.py beside the runtime there activates it. Here the
        // directory is PYTHONPATH's (the stdlib directory of an installed tree behaves the same).
        const stdlibLike = path.join(tr.root, 'stdlib');
        fs.mkdirSync(stdlibLike);
        for (const f of ['_pyfloppy_runtime.py', 'sitecustomize.py'])
          fs.copyFileSync(path.join(RUNTIME, f), path.join(stdlibLike, f));
        ok(py(i, ['-m', 'compileall', '-q', '--invalidation-mode', 'unchecked-hash', stdlibLike], tr.root));
        // The venv's own sitecustomize still runs (chained).
        const vsp = ok(py(vpy, ['-c', 'import site; print(site.getsitepackages()[0])'], tr.root)).trim();
        fs.writeFileSync(path.join(vsp, 'sitecustomize.py'), 'import builtins\nbuiltins.VENV_CUSTOM = 1\n');
        fs.mkdirSync(path.join(tr.lib, '__pycache__'));
        fs.writeFileSync(path.join(tr.lib, '__pycache__', '__dont_write_bytecode__'), '');
        fs.writeFileSync(path.join(tr.lib, 'm.py'), 'Z = 3\n');
        const before = listing(tr.lib);
        const out = ok(
          py(
            vpy,
            [
              '-c',
              `import sys; sys.path.insert(0, ${JSON.stringify(tr.lib)}); import m\n` +
                "print('_pyfloppy_runtime' in sys.modules, VENV_CUSTOM)",
            ],
            tr.root,
            { PYTHONPATH: stdlibLike },
          ),
        );
        assert.equal(out.trim(), 'True 1');
        assert.deepEqual(listing(tr.lib), before);
      } finally {
        fs.rmSync(tr.root, { recursive: true, force: true });
      }
    });
  });
}
