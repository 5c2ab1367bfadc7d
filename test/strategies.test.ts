/**
 * Strategy estimates checked against independent computations: sums over explicit file lists, archives built
 * by Python's own zipfile and gzip, and, on a real stdlib, Python walking the files itself.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyze } from '../src/analyze.js';
import type { StrategyEstimate } from '../src/strategies/estimate.js';
import { PYTHON3_LIBS, STRATEGIES } from '../src/strategies/catalog.js';
import { have } from './helpers/need.js';
import { interpreter, interpreters, runPython, stdlibOf, cpython } from './helpers/python.js';
import { removeTree, tempDir, writeTree } from './helpers/tree.js';

const TAG = 'cpython-312';
/** Text that compresses like code: repetitive but not trivially. */
const code = (seed: number, n: number): string =>
  Array.from(
    { length: n },
    (_, k) => `def f_${seed}_${k}(x):\n    return x * ${(seed * 31 + k * 7) % 97} + ${k}\n`,
  ).join('');

function triad(
  dir: string,
  mod: string,
  seed: number,
  same01: boolean,
  same12: boolean,
): Record<string, string> {
  const l0 = `pyc0 ${code(seed, 40)}`;
  const l1 = same01 ? l0 : `pyc1 ${code(seed, 38)}`;
  const l2 = same12 ? l1 : `pyc2 ${code(seed, 30)}`;
  const pc = dir === '' ? '__pycache__' : `${dir}/__pycache__`;
  const src = dir === '' ? `${mod}.py` : `${dir}/${mod}.py`;
  return {
    [src]: code(seed, 60),
    [`${pc}/${mod}.${TAG}.pyc`]: l0,
    [`${pc}/${mod}.${TAG}.opt-1.pyc`]: l1,
    [`${pc}/${mod}.${TAG}.opt-2.pyc`]: l2,
  };
}

const byId = (list: StrategyEstimate[], id: string): StrategyEstimate => list.find((s) => s.id === id)!;

describe('strategy estimates on a generated tree', () => {
  let root: string;
  let strategies: StrategyEstimate[];
  let total: number;
  const files = (pred: (rel: string) => boolean): string[] => {
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const n of fs.readdirSync(d)) {
        const p = path.join(d, n);
        if (fs.lstatSync(p).isDirectory()) walk(p);
        if (pred(path.relative(root, p))) out.push(p);
      }
    };
    walk(root);
    return out;
  };
  /** Bytes of the distinct inodes of paths: allocated (default) or apparent. */
  const sumInodes = (paths: string[], apparent = false): number => {
    const seen = new Set<number>();
    let s = 0;
    for (const p of paths) {
      const st = fs.lstatSync(p);
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
      s += apparent ? st.size : st.blocks * 512;
    }
    return s;
  };

  before(async () => {
    root = tempDir();
    writeTree(root, {
      ...triad('', 'os', 1, true, false),
      ...triad('', 'aifc', 2, false, true),
      ...triad('encodings', '__init__', 3, true, true),
      ...triad('encodings', 'utf_8', 4, true, false),
      ...triad('unittest', '__init__', 5, false, false),
      ...triad('email', 'hl', 6, true, false),
      'lib-dynload/_json.cpython-312-x86_64-linux-gnu.so': 'ELF'.repeat(3000),
      'pydoc_data/topics.txt': 'data '.repeat(2000),
    });
    // hl: level 1 is already a hardlink of level 0; dropping level 1 frees nothing for it.
    const pc = path.join(root, 'email/__pycache__');
    fs.rmSync(path.join(pc, `hl.${TAG}.opt-1.pyc`));
    fs.linkSync(path.join(pc, `hl.${TAG}.pyc`), path.join(pc, `hl.${TAG}.opt-1.pyc`));
    const report = await analyze({ paths: [root] });
    strategies = report.strategies;
    total = report.grandTotal.allocatedBytes;
  });
  after(() => removeTree(root));

  it('has every strategy of the seeds, with risks and after + saved = the baseline', () => {
    assert.deepEqual(
      strategies.map((s) => s.id),
      STRATEGIES.map((s) => s.id),
    );
    for (const id of [
      'status-quo',
      'dead-batteries',
      'dev-modules',
      'zip-data',
      'zip-stdlib',
      'no-bytecode',
      'drop-optimized',
      'drop-opt2',
      'sourceless',
      'compress-pyc',
      'dedup',
      'no-python',
      'pysources',
      'py-and-pyc0',
      'drop-opt2+dedup',
      'drop-optimized+dedup',
    ]) {
      const s = byId(strategies, id);
      assert.ok(s !== undefined, id);
      assert.equal(s.after.allocatedBytes + s.saved.allocatedBytes, total, id);
    }
    assert.equal(byId(strategies, 'status-quo').saved.allocatedBytes, 0);
    assert.equal(byId(strategies, 'no-python').after.allocatedBytes, 0);
    assert.deepEqual(byId(strategies, 'dedup').risks, []);
  });

  it('removal strategies free exactly the inodes whose last name goes', () => {
    const opt2 = files((r) => r.endsWith('.opt-2.pyc'));
    const opt1 = files((r) => r.endsWith('.opt-1.pyc') && !r.includes('hl.'));
    assert.equal(byId(strategies, 'drop-opt2').saved.allocatedBytes, sumInodes(opt2), 'drop-opt2');
    assert.equal(
      byId(strategies, 'drop-optimized').saved.allocatedBytes,
      sumInodes([...opt1, ...opt2]),
      'drop-optimized',
    );
    assert.equal(
      byId(strategies, 'py-and-pyc0').saved.allocatedBytes,
      sumInodes([...opt1, ...opt2]),
      'py-and-pyc0',
    );
    assert.equal(
      byId(strategies, 'no-bytecode').saved.allocatedBytes,
      sumInodes(files((r) => r.endsWith('.pyc'))),
      'no-bytecode',
    );
    assert.equal(
      byId(strategies, 'dead-batteries').saved.allocatedBytes,
      sumInodes(files((r) => /^(__pycache__\/)?aifc\./.test(r))),
      'dead-batteries',
    );
    const dev = files((r) => r.startsWith('unittest') || r.startsWith('pydoc_data'));
    assert.equal(byId(strategies, 'dev-modules').saved.allocatedBytes, sumInodes(dev), 'dev-modules');
  });

  it('dedup and drop-opt2+dedup free the later level of each identical pair not yet linked', () => {
    const pc = (d: string, m: string, l: string) => path.join(root, d, '__pycache__', `${m}.${TAG}${l}.pyc`);
    // os 0=1; aifc 1=2; encodings/__init__ 0=1=2; utf_8 0=1; hl 0=1 already linked.
    const dedup = [
      pc('', 'os', '.opt-1'),
      pc('', 'aifc', '.opt-2'),
      pc('encodings', '__init__', '.opt-1'),
      pc('encodings', '__init__', '.opt-2'),
      pc('encodings', 'utf_8', '.opt-1'),
    ];
    assert.equal(byId(strategies, 'dedup').saved.allocatedBytes, sumInodes(dedup));
    const opt2 = files((r) => r.endsWith('.opt-2.pyc'));
    const level1Dups = [
      pc('', 'os', '.opt-1'),
      pc('encodings', '__init__', '.opt-1'),
      pc('encodings', 'utf_8', '.opt-1'),
    ];
    assert.equal(
      byId(strategies, 'drop-opt2+dedup').saved.allocatedBytes,
      sumInodes(opt2) + sumInodes(level1Dups),
    );
  });

  it("compressed sizes match archives built by Python's zipfile and gzip (within zlib build differences)", (t) => {
    const py = interpreters().at(-1);
    if (!have(t, py, cpython('3'))) return;
    const measured = JSON.parse(
      runPython(
        py,
        `
import gzip, io, json, os, sys, zipfile
root = sys.argv[1]
tag = sys.argv[2]
def legacy(rel):
    d, f = os.path.split(rel)
    if os.path.basename(d) == '__pycache__':
        return os.path.join(os.path.dirname(d), f.split('.')[0] + '.pyc')
    return rel
members = []
for d, _, fs in os.walk(os.path.join(root, 'encodings')):
    for f in fs:
        if f.endswith('.py') or f.endswith(tag + '.pyc'):
            members.append(os.path.relpath(os.path.join(d, f), root))
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
    for rel in members:
        z.write(os.path.join(root, rel), legacy(rel))
pycs = 0
seen = set()
for d, _, fs in os.walk(root):
    for f in fs:
        ino = os.lstat(os.path.join(d, f)).st_ino
        if f.endswith('.pyc') and ino not in seen:
            seen.add(ino)
            b = io.BytesIO()
            with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
                z.write(os.path.join(d, f), f)
            pycs += len(b.getvalue())
# pysources: each source with a level-0 cache gzip-compressed at the gzip command's level (6), one
# __pysources__ directory per directory holding such sources.
gz = 0
gzdirs = set()
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.py') and os.path.exists(os.path.join(d, '__pycache__', f[:-3] + '.' + tag + '.pyc')):
            gz += len(gzip.compress(open(os.path.join(d, f), 'rb').read(), 6, mtime=0))
            gzdirs.add(d)
print(json.dumps({'zip': len(buf.getvalue()), 'pycs': pycs, 'gz': gz, 'gzdirs': len(gzdirs)}))
`,
        [root, TAG],
      ),
    ) as { zip: number; pycs: number; gz: number; gzdirs: number };
    const near = (a: number, b: number, what: string) =>
      assert.ok(Math.abs(a - b) <= Math.max(16, b * 0.01), `${what}: pyfloppy ${a}, Python ${b}`);
    // zip-data: removed encodings code and its emptied __pycache__, plus the zip.
    // The package directory goes with everything in it (it would be empty).
    const zipData = byId(strategies, 'zip-data').saved.apparentBytes;
    const removedApparent = files((r) => r === 'encodings' || r.startsWith('encodings/')).reduce(
      (s, p) => s + fs.lstatSync(p).size,
      0,
    );
    near(removedApparent - zipData, measured.zip, 'zip of encodings');
    // compress-pyc: every .pyc zipped on its own.
    const pycApparent = sumInodes(
      files((r) => r.endsWith('.pyc')),
      true,
    );
    near(
      pycApparent - byId(strategies, 'compress-pyc').saved.apparentBytes,
      measured.pycs,
      'pycs zipped one by one',
    );
    // pysources frees what sourceless frees, less the gzip files and their directories (one block each).
    assert.ok(measured.gz > 0 && measured.gzdirs > 0);
    const bsize = fs.statfsSync(root).bsize;
    near(
      byId(strategies, 'sourceless').saved.apparentBytes -
        byId(strategies, 'pysources').saved.apparentBytes -
        measured.gzdirs * bsize,
      measured.gz,
      'sources gzipped one by one',
    );
  });
});

describe("the seed's reasoning on a real stdlib", () => {
  it('3.8, python3-libs-like subset: drop-optimized and dedup follow from the files themselves', async (t) => {
    const py = interpreter('3.8');
    if (!have(t, py, cpython('3.8'))) return;
    const stdlib = stdlibOf(py);
    const report = await analyze({ paths: [stdlib], baselineSubset: PYTHON3_LIBS });
    const expected = JSON.parse(
      runPython(
        py,
        `
import filecmp, json, os, sys
root = sys.argv[1]
EXCL = {'test', 'idlelib', 'tkinter', 'turtle', 'turtledemo'}
def excluded(rel):
    parts = rel.split(os.sep)
    top = parts[0]
    if top in ('site-packages', 'dist-packages') or top.startswith('config-'):
        return True
    if top == '__pycache__':
        top = parts[1].split('.')[0]
    elif top.endswith('.py'):
        top = top[:-3]
    return top in EXCL or any(p in ('test', 'tests', 'idle_test') for p in parts[:-1])
drop = 0
dedup = 0
pairs = 0
for d, _, fs in os.walk(root):
    if os.path.basename(d) != '__pycache__':
        continue
    groups = {}
    for f in fs:
        rel = os.path.relpath(os.path.join(d, f), root)
        if not f.endswith('.pyc') or excluded(rel):
            continue
        stem, level = f[:-4], 0
        for n in (1, 2):
            if stem.endswith('.opt-%d' % n):
                level, stem = n, stem[: -len('.opt-%d' % n)]
        groups.setdefault(stem, {})[level] = os.path.join(d, f)
        if level > 0:
            drop += os.lstat(os.path.join(d, f)).st_blocks * 512
    for g in groups.values():
        levels = sorted(g)
        for a, b in zip(levels, levels[1:]):
            if filecmp.cmp(g[a], g[b], shallow=False):
                dedup += os.lstat(g[b]).st_blocks * 512
                pairs += 1
print(json.dumps({'drop': drop, 'dedup': dedup, 'pairs': pairs}))
`,
        [stdlib],
      ),
    ) as { drop: number; dedup: number; pairs: number };
    assert.equal(byId(report.strategies, 'drop-optimized').saved.allocatedBytes, expected.drop);
    assert.equal(byId(report.strategies, 'dedup').saved.allocatedBytes, expected.dedup);
    assert.ok(expected.pairs > 300, `${expected.pairs} identical pairs`);
    // Percentages are of the subset, as the seed counts them.
    assert.ok(report.baseline!.allocatedBytes < report.grandTotal.allocatedBytes / 2);
  });
});
