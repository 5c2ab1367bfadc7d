/**
 * dedup links exactly what `compileall --hardlink-dupes` links, on real stdlibs: one copy deduplicated by
 * pyfloppy, another recompiled by the interpreter's own compileall with --hardlink-dupes (for 3.8, whose
 * compileall takes one level and has no --hardlink-dupes, the same loop written from compileall's code).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { dedup } from '../src/dedup/dedup.js';
import { have } from './helpers/need.js';
import { interpreter, stdlibOf, cpython } from './helpers/python.js';
import { copyTree, linkGroups, removeTree, snapshot, tempDir } from './helpers/tree.js';

// compileall.compile_file's loop for several levels with hardlink_dupes (3.9+), for interpreters without it.
const COMPILEALL_H = `
import filecmp, importlib.util, os, py_compile, sys
from concurrent.futures import ProcessPoolExecutor
def one(fullname):
    levels = [0, 1, 2]
    cfiles = {l: importlib.util.cache_from_source(fullname, optimization=l if l >= 1 else '') for l in levels}
    for index, level in enumerate(levels):
        cfile = cfiles[level]
        try:
            py_compile.compile(fullname, cfile, None, True, optimize=level)
        except py_compile.PyCompileError:
            return
        if index > 0:
            previous = cfiles[levels[index - 1]]
            if filecmp.cmp(cfile, previous, shallow=False):
                os.unlink(cfile)
                os.link(previous, cfile)
sources = [os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs if f.endswith('.py')]
with ProcessPoolExecutor() as ex:
    list(ex.map(one, sources, chunksize=64))
`;

describe('dedup links what compileall --hardlink-dupes links', () => {
  for (const v of ['3.8', '3.11', '3.13']) {
    it(`on a copy of the ${v} stdlib, and a second run changes nothing`, async (t) => {
      const py = interpreter(v);
      if (!have(t, py, cpython(v))) return;
      const stdlib = stdlibOf(py);
      const work = tempDir();
      try {
        const a = path.join(work, 'a');
        const b = path.join(work, 'b');
        // site-packages is not the stdlib (and pip there is compiled at level 0 only). The second copy shares
        // the first's inodes: compileall -f replaces every cache by rename. It is made after dedup, which
        // leaves alone inodes that also have names outside its paths (issue 19).
        copyTree(stdlib, a, { exclude: ['site-packages'] });
        const first = await dedup({ paths: [a] });
        copyTree(a, b, { links: true });
        const r =
          py.minor >= 9
            ? spawnSync(
                py.exe,
                ['-m', 'compileall', '-q', '-f', '-j0', '-o0', '-o1', '-o2', '--hardlink-dupes', b],
                {
                  encoding: 'utf8',
                },
              )
            : spawnSync(py.exe, ['-c', COMPILEALL_H, b], { encoding: 'utf8' });
        assert.ok(r.status === 0 || r.status === 1, r.stderr); // 1: files with deliberate syntax errors
        assert.deepEqual(first.skipped, []);
        assert.ok(first.saved.pairs > 500, `${first.saved.pairs} pairs`);
        // Compared on every cache the copy has, linked by pyfloppy or not, that compileall wrote again with
        // the same bytes (the installed tree may lack levels that compileall -f adds, and marshal's output
        // varies with the modules the compiling process has loaded, so a few installed caches differ).
        const sa = snapshot(a);
        const sb = snapshot(b);
        const same = new Set(
          [...sa]
            .filter(([rel, s]) => rel.endsWith('.pyc') && sb.get(rel)?.sha256 === s.sha256)
            .map(([r]) => r),
        );
        assert.ok(same.size > 0.9 * [...sa.keys()].filter((rel) => rel.endsWith('.pyc')).length);
        const installed = linkGroups(a, (rel) => same.has(rel));
        const recompiled = linkGroups(b, (rel) => same.has(rel));
        assert.ok(
          recompiled.some((g) => g.some((rel) => rel.endsWith('.opt-2.pyc'))),
          'levels 1-2 linked',
        );
        assert.equal(installed.length, recompiled.length);
        assert.deepEqual(installed, recompiled);
        const second = await dedup({ paths: [a] });
        assert.equal(second.saved.pairs, 0);
        assert.deepEqual(second.skipped, []);
        assert.equal(second.alreadyLinked, first.saved.pairs);
      } finally {
        removeTree(work);
      }
    });
  }
});
