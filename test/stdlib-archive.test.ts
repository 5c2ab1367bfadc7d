/**
 * The stdlib archive's name, as CPython's getpath puts it on sys.path (Modules/getpath.py, ZIP_LANDMARK:
 * PREFIX/lib/python{MAJOR}{MINOR}{ABI_THREAD}.zip beside PREFIX/lib/python{MAJOR}.{MINOR}{ABI_THREAD}): for
 * every installed interpreter the name pyfloppy gives equals the entry on that interpreter's own sys.path,
 * and a free-threaded layout (pythonX.Yt) gets pythonXYt.zip, planned and applied.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { apply } from '../src/apply/apply.js';
import { plan } from '../src/plan/plan.js';
import { stdlibRoot } from '../src/python/stdlib.js';
import { have } from './helpers/need.js';
import { cpython, interpreter, interpreters, runPython, stdlibOf } from './helpers/python.js';
import { fastTempDir, removeTree, snapshot, writeTree } from './helpers/tree.js';

describe('the stdlib archive beside pythonX.Y', () => {
  it("is the .zip on each installed interpreter's own sys.path", (t) => {
    const all = interpreters();
    if (!have(t, all.length > 0, cpython('3'))) return;
    for (const py of all) {
      const stdlib = stdlibOf(py);
      const onPath = JSON.parse(
        runPython(py, 'import json, sys; print(json.dumps([p for p in sys.path if p.endswith(".zip")]))'),
      ) as string[];
      const layout = stdlibRoot(stdlib);
      assert.ok(layout !== null, `${py.version}: ${stdlib} is a stdlib`);
      assert.deepEqual([path.resolve(stdlib, layout.archive)], onPath, py.version);
      assert.deepEqual([layout.major, layout.minor], [py.major, py.minor]);
    }
  });

  it('a free-threaded layout (python3.13t) gets python313t.zip: planned, applied, read back by zipfile', async (t) => {
    const py = interpreter('3.13');
    if (!have(t, py, cpython('3.13'))) return;
    const work = fastTempDir();
    try {
      const lib = path.join(work, 'prefix', 'lib');
      const root = path.join(lib, 'python3.13t');
      writeTree(root, {
        'os.py': 'SEP = "/"\n',
        'mod.py': 'X = 1\n',
        'pkg/__init__.py': '',
        'pkg/core.py': 'def g():\n    return 3\n',
      });
      assert.deepEqual(stdlibRoot(root), { major: 3, minor: 13, archive: '../python313t.zip' });
      // The same directory without the t: the build with the GIL.
      assert.equal(stdlibRoot(path.join(lib, 'python3.13'))?.archive, undefined, 'no such directory');
      const p = await plan({ strategies: ['zip-stdlib'], path: root, workers: 0 });
      const zips = p.operations.filter((o) => o.op === 'zip');
      assert.deepEqual(
        zips.map((o) => o.path),
        ['../python313t.zip'],
      );
      const file = path.join(work, 'plan.json');
      fs.writeFileSync(file, JSON.stringify(p));
      const r = await apply({ planFile: file });
      assert.equal(r.outcome, 'applied', r.failure);
      assert.deepEqual(fs.readdirSync(lib).sort(), ['python3.13t', 'python313t.zip']);
      const names = JSON.parse(
        runPython(
          py,
          'import json, sys, zipfile; print(json.dumps(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))',
          [path.join(lib, 'python313t.zip')],
        ),
      ) as string[];
      assert.deepEqual(names, ['mod.py', 'pkg/__init__.py', 'pkg/core.py']);
      assert.ok(snapshot(root).has('os.py'), "getpath's landmark stays on disk");
    } finally {
      removeTree(work);
    }
  });
});
