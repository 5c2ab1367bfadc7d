/**
 * The zip layouts where the stdlib is a directory below the analyzed root (`analyze DIR` with the stdlib at
 * DIR/python3.13, as a prefix's lib or an image's root file system has it): the same modules are zipped as
 * when the stdlib itself is the root, and the archive goes beside it (DIR/python313.zip).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { analyze } from '../src/analyze.js';
import { plan } from '../src/plan/plan.js';
import { have } from './helpers/need.js';
import { interpreter, stdlibOf } from './helpers/python.js';
import { removeTree, tempDir } from './helpers/tree.js';

const ZIPS = ['zip-data', 'zip-stdlib'];

test('zip-data and zip-stdlib estimate a stdlib below the root as the stdlib itself', async (t) => {
  const py = interpreter('3.13');
  if (!have(t, py, 'CPython 3.13')) return;
  const work = tempDir('pyfloppy-zip-below-');
  try {
    const std = path.join(work, 'prefix', 'python3.13');
    for (const p of ['os.py', 'abc.py', 'encodings', 'json', 'email', '__pycache__'])
      fs.cpSync(path.join(stdlibOf(py), p), path.join(std, p), { recursive: true, preserveTimestamps: true });
    const below = await analyze({ paths: [path.dirname(std)], workers: 0 });
    const itself = await analyze({ paths: [std], workers: 0 });
    for (const id of ZIPS) {
      const a = below.strategies.find((s) => s.id === id)!;
      const b = itself.strategies.find((s) => s.id === id)!;
      assert.ok(b.saved.apparentBytes > 0, id);
      // The relocated caches name the archive by a path of another length: a few bytes per cache apart.
      const apart = Math.abs(a.saved.apparentBytes - b.saved.apparentBytes);
      assert.ok(
        apart <= b.saved.apparentBytes * 0.001,
        `${id}: ${a.saved.apparentBytes} vs ${b.saved.apparentBytes}`,
      );
    }
    const p = await plan({ strategies: ['zip-stdlib'], path: path.dirname(std), workers: 0 });
    const zips = p.operations.filter((o) => o.op === 'zip');
    assert.deepEqual(
      zips.map((o) => o.path),
      ['python313.zip'],
    );
  } finally {
    removeTree(work);
  }
});
