import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildModel } from '../src/model/model.js';
import { have } from './helpers/need.js';
import {
  compileAllLevels,
  interpreter,
  interpreters,
  runPython,
  stdlibOf,
  cpython,
} from './helpers/python.js';
import { duBytes, removeTree, tempDir, writeTree } from './helpers/tree.js';

// Python computes the same counts by comparing bytes (filecmp with shallow=False), group by group.
const PY_COUNT = `
import filecmp, json, os, sys
groups = {}
for d, dirs, files in os.walk(sys.argv[1]):
    if os.path.basename(d) != "__pycache__":
        continue
    for f in files:
        if not f.endswith(".pyc"):
            continue
        stem = f[:-4]
        level = 0
        for n in (1, 2):
            if stem.endswith(".opt-%d" % n):
                level, stem = n, stem[: -len(".opt-%d" % n)]
        if "." not in stem:
            continue
        groups.setdefault((d, stem), {})[level] = os.path.join(d, f)
def same(a, b):
    return filecmp.cmp(a, b, shallow=False)
def linked(a, b):
    return os.path.samestat(os.lstat(a), os.lstat(b))
c = dict(modules=len(groups), identical01=0, identical12=0, identical012=0, alreadyLinked=0)
for g in groups.values():
    s01 = 0 in g and 1 in g and same(g[0], g[1])
    s12 = 1 in g and 2 in g and same(g[1], g[2])
    c["identical01"] += s01
    c["identical12"] += s12
    c["identical012"] += s01 and s12
    c["alreadyLinked"] += (s01 and linked(g[0], g[1])) + (s12 and linked(g[1], g[2]))
print(json.dumps(c))
`;

function countsOf(model: Awaited<ReturnType<typeof buildModel>>) {
  const b = model.identity.summary;
  return {
    modules: b.modules,
    identical01: b.identical01,
    identical12: b.identical12,
    identical012: b.identical012,
    alreadyLinked: b.alreadyLinked,
  };
}

describe('bytecode identity', () => {
  // The four modules of the compileall --hardlink-dupes discussion (seed 002).
  const SEED_MODULES = {
    'plain.py': '1\n',
    'asserts.py': 'assert 1\n',
    'docstring.py': '"""Dummy module docstring"""\n1\n',
    'both.py': '"""Dummy module docstring"""\nassert 1\n',
  };

  it("finds exactly the identical levels of the seed's four modules, with every interpreter", async (t) => {
    const all = interpreters();
    if (!have(t, all.length > 0, cpython('3'))) return;
    for (const i of all) {
      const d = tempDir();
      try {
        writeTree(d, SEED_MODULES);
        compileAllLevels(i, d);
        const m = await buildModel({ paths: [d] });
        const bits: Record<string, number> = {};
        const t2 = m.scan.table;
        for (let g = 0; g < m.classification.bytecode.count; g++) {
          const name = path
            .basename(t2.relativePath(m.classification.bytecode.levels[3 * g]!))
            .split('.')[0]!;
          bits[name] = m.identity.pairBits[g]! & 3;
        }
        // bit 0: level 0 = level 1; bit 1: level 1 = level 2
        assert.deepEqual(bits, { plain: 3, asserts: 2, docstring: 1, both: 0 }, i.version);
        assert.deepEqual(countsOf(m), {
          modules: 4,
          identical01: 2,
          identical12: 2,
          identical012: 1,
          alreadyLinked: 0,
        });
        assert.deepEqual(countsOf(m), JSON.parse(runPython(i, PY_COUNT, [d])));
      } finally {
        removeTree(d);
      }
    }
  });

  it('sees identical files already hardlinked, and never calls equal sizes identical without reading', async (t) => {
    const i = interpreters().at(-1);
    if (!have(t, i, cpython('3'))) return;
    const d = tempDir();
    try {
      writeTree(d, SEED_MODULES);
      compileAllLevels(i, d);
      const pc = path.join(d, '__pycache__');
      const tag = fs
        .readdirSync(pc)
        .find((f) => f.startsWith('plain.'))!
        .split('.')[1]!;
      // Link plain's level 1 to level 0, as compileall --hardlink-dupes would.
      fs.rmSync(path.join(pc, `plain.${tag}.opt-1.pyc`));
      fs.linkSync(path.join(pc, `plain.${tag}.pyc`), path.join(pc, `plain.${tag}.opt-1.pyc`));
      // Same size, one byte different: must not count as identical.
      const f = path.join(pc, `docstring.${tag}.opt-1.pyc`);
      const b = fs.readFileSync(f);
      b[b.length - 1] = b[b.length - 1]! ^ 0xff;
      fs.writeFileSync(f, b);
      const m = await buildModel({ paths: [d] });
      assert.deepEqual(countsOf(m), {
        modules: 4,
        identical01: 1,
        identical12: 2,
        identical012: 1,
        alreadyLinked: 1,
      });
      assert.deepEqual(countsOf(m), JSON.parse(runPython(i, PY_COUNT, [d])));
      // What is left for dedup, compileall pairing: plain 1-2 and asserts 1-2.
      assert.equal(m.identity.summary.dedupable.pairs, 2);
    } finally {
      removeTree(d);
    }
  });

  for (const v of ['3.8', '3.11', '3.13']) {
    it(`on the real ${v} stdlib: totals equal du's and identical pairs equal Python's comparison`, async (t) => {
      const i = interpreter(v);
      if (!have(t, i, cpython(v))) return;
      const stdlib = stdlibOf(i);
      const m = await buildModel({ paths: [stdlib] });
      const all = m.footprint.all.sum();
      const du = duBytes(stdlib);
      assert.equal(all.apparentBytes, du.apparent);
      assert.equal(all.allocatedBytes, du.allocated);
      assert.deepEqual(countsOf(m), JSON.parse(runPython(i, PY_COUNT, [stdlib])));
      assert.ok(m.identity.summary.modules > 500, `${m.identity.summary.modules} modules with caches`);
    });
  }
});
