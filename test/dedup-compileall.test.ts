/**
 * dedup links exactly what `compileall --hardlink-dupes` links, on real stdlibs: a copy compiled by the
 * interpreter's own compileall with --hardlink-dupes (for 3.8, whose compileall takes one level and has no
 * --hardlink-dupes, the same loop written from compileall's code), its link groups recorded, every link
 * undone, then deduplicated by pyfloppy: the same groups over every cache of the tree.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
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
        // site-packages is not the stdlib (and pip there is compiled at level 0 only).
        copyTree(stdlib, a, { exclude: ['site-packages'] });
        // compileall links the tree in place (same paths, so the same bytes as pyfloppy will see): its
        // link groups, over every cache, are the expectation.
        const r =
          py.minor >= 9
            ? spawnSync(
                py.exe,
                ['-m', 'compileall', '-q', '-f', '-j0', '-o0', '-o1', '-o2', '--hardlink-dupes', a],
                { encoding: 'utf8' },
              )
            : spawnSync(py.exe, ['-c', COMPILEALL_H, a], { encoding: 'utf8' });
        assert.ok(r.status === 0 || r.status === 1, r.stderr); // 1: files with deliberate syntax errors
        const isCache = (rel: string): boolean => rel.endsWith('.pyc');
        const expected = linkGroups(a, isCache);
        assert.ok(
          expected.some((g) => g.some((rel) => rel.endsWith('.opt-2.pyc'))),
          'compileall links levels 1 and 2 somewhere',
        );
        // Every link undone: each cache a copy of its own, same bytes, same mode.
        for (const [rel, st] of snapshot(a)) {
          if (!isCache(rel) || st.nlink === 1) continue;
          const p = path.join(a, rel);
          fs.copyFileSync(p, `${p}.copy`);
          fs.chmodSync(`${p}.copy`, st.mode & 0o7777);
          fs.renameSync(`${p}.copy`, p);
        }
        assert.deepEqual(linkGroups(a, isCache), []);
        const first = await dedup({ paths: [a] });
        assert.deepEqual(first.skipped, []);
        assert.ok(first.saved.pairs > 500, `${first.saved.pairs} pairs`);
        assert.deepEqual(linkGroups(a, isCache), expected);
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
