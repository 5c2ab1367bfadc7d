/**
 * The zip layouts (zip-data, zip-stdlib) on a generated stdlib-shaped tree (PREFIX/lib/python3.13 with os.py)
 * compiled by the real CPython 3.13: the exact files left and the exact archive members, the archive read
 * back by CPython's zipfile (bytes, CRCs) and imported by zipimport without recompiling, du's bytes freed
 * (tree plus archive) equal to the plan and the estimate, what stays on disk and why, the refusals, and a
 * rollback that removes the archive.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apply } from '../src/apply/apply.js';
import { type Plan, parsePlan, plan } from '../src/plan/plan.js';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { compileAllLevels, interpreter, cpython } from './helpers/python.js';
import { relocatePyc } from '../src/python/relocate.js';
import { copyTree, duBytes, fastTempDir, removeTree, snapshot, writeTree } from './helpers/tree.js';

const py = interpreter('3.13');
const TAG = 'cpython-313';

function stdlibTree(root: string): void {
  writeTree(root, {
    'os.py': 'SEP = "/"\n',
    'mod.py': '"""A module."""\ndef f(x):\n    assert x\n    return x\n',
    'pkg/__init__.py': '',
    'pkg/core.py': 'def g():\n    return 3\n',
    'pkg/sub/__init__.py': 'Z = 3\n',
    'pkg/sub/leaf.py': 'def h():\n    return 4\n',
    'encodings/__init__.py': 'E = 1\n',
    'encodings/rot_x.py': 'TABLE = "abc" * 50\n',
    'pydoc_data/__init__.py': '',
    'pydoc_data/topics.py': 'topics = {"a": "long text " * 40}\n',
    // Read by pydoc by path: it stays where it is, the seed's data modules are zipped anyway.
    'pydoc_data/_pydoc.css': 'body {}\n',
    // A package with a data file: its code may read it beside __file__, so it stays whole.
    'withdata/__init__.py': 'import os\nHERE = os.path.dirname(__file__)\n',
    'withdata/res.txt': 'resource\n',
    // Not a package path (name not an identifier): not importable, stays.
    'config-3.13/helper.py': 'print("script")\n',
    'site-packages/thirdparty/__init__.py': 'T = 1\n',
    // Stay on disk: getpath's landmark, and pydoc (it reads pydoc_data/_pydoc.css beside itself).
    'pydoc.py': 'CSS = "pydoc_data/_pydoc.css"\n',
    // A package with code in a directory without __init__: the zipped package would not reach it.
    'nsy/__init__.py': '',
    'nsy/portion/mod.py': 'P = 1\n',
  });
  // A latin-1 source with its coding cookie: zipimport would show no lines for it; its package stays.
  fs.mkdirSync(path.join(root, 'latin'));
  fs.writeFileSync(path.join(root, 'latin/__init__.py'), '');
  fs.writeFileSync(
    path.join(root, 'latin/old.py'),
    Buffer.concat([Buffer.from('# -*- coding: latin-1 -*-\nS = "'), Buffer.from([0xe4]), Buffer.from('"\n')]),
  );
}

const files = (root: string): string[] => [...snapshot(root).keys()].sort();

/** CPython's zipfile reads the archive: names, CRC check, and each member's bytes (hex). */
function readZip(archive: string): { names: string[]; bad: string | null; data: Record<string, string> } {
  const r = spawnSync(
    py!.exe,
    [
      '-I',
      '-c',
      'import json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(json.dumps({"names": z.namelist(), "bad": z.testzip(), "data": {n: z.read(n).hex() for n in z.namelist()}}))',
      archive,
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { names: string[]; bad: string | null; data: Record<string, string> };
}

describe('zip layouts', () => {
  let work = '';
  let template = '';
  before(() => {
    if (py === undefined) return;
    work = fastTempDir();
    template = path.join(work, 'template');
    stdlibTree(template);
    compileAllLevels(py, template);
  });
  after(() => removeTree(work));

  let round = 0;
  /** A fresh copy at PREFIX/lib/python3.13; returns the root and where its archive goes. */
  const fresh = (): { root: string; archive: string } => {
    const lib = path.join(work, `p${round++}`, 'lib');
    const root = path.join(lib, 'python3.13');
    fs.mkdirSync(lib, { recursive: true });
    copyTree(template, root);
    return { root, archive: path.join(lib, 'python313.zip') };
  };
  const save = (p: Plan, name: string): string => {
    const f = path.join(work, name);
    fs.writeFileSync(f, JSON.stringify(p));
    return f;
  };

  const zipped = (scope: 'data' | 'stdlib') => {
    const data = [
      'encodings/__init__.py',
      'encodings/rot_x.py',
      'pydoc_data/__init__.py',
      'pydoc_data/topics.py',
    ];
    const rest = ['mod.py', 'pkg/__init__.py', 'pkg/core.py', 'pkg/sub/__init__.py', 'pkg/sub/leaf.py'];
    return scope === 'data' ? data : [...data, ...rest];
  };
  const cachesOf = (src: string): string[] => {
    const dir = path.posix.dirname(src);
    const stem = path.posix.basename(src, '.py');
    const pc = dir === '.' ? '__pycache__' : `${dir}/__pycache__`;
    return ['', '.opt-1', '.opt-2'].map((o) => `${pc}/${stem}.${TAG}${o}.pyc`);
  };

  for (const scope of ['data', 'stdlib'] as const) {
    const id = `zip-${scope}`;
    it(`${id}: exact files left and archive members, read back by CPython, imported without recompiling, bytes as estimated`, async (t) => {
      if (!have(t, py, cpython('3.13'))) return;
      const { root, archive } = fresh();
      const before = files(root);
      const du0 = duBytes(root);
      const p = await plan({ strategies: [id], path: root, workers: 0 });
      assert.deepEqual(p.refused, []);
      assert.deepEqual(p.saved, p.estimate, 'the plan frees what the catalog estimates');
      assert.equal(p.counts.zip, 1);
      const zipOp = p.operations.find((o) => o.op === 'zip')!;
      assert.equal(zipOp.op === 'zip' && zipOp.path, '../python313.zip');
      assert.ok(p.operations.indexOf(zipOp) < p.operations.findIndex((o) => o.op === 'remove'));
      if (scope === 'stdlib') {
        const kept = (name: string, why: RegExp) =>
          assert.ok(
            p.notes.some((n) => n.startsWith('kept on disk: ') && n.includes(name) && why.test(n)),
            `${name}: ${p.notes.join(' | ')}`,
          );
        kept('withdata', /other files than code/);
        kept('os', /getpath's landmark/);
        kept('pydoc', /_pydoc\.css/);
        kept('nsy', /directories without __init__/);
        assert.ok(p.notes.some((n) => n.includes('not UTF-8') && n.includes('latin/old.py')));
      }

      const r = await apply({ planFile: save(p, `${id}.json`) });
      assert.equal(r.outcome, 'applied', r.failure);
      const gone = new Set(zipped(scope).flatMap((s) => [s, ...cachesOf(s)]));
      assert.deepEqual(
        files(root),
        before.filter((f) => !gone.has(f)),
      );
      const z = readZip(archive);
      assert.equal(z.bad, null, 'every CRC checks');
      assert.deepEqual(
        z.names,
        zipped(scope)
          .flatMap((s) => [s, `${s}c`])
          .sort(),
      );
      for (const s of zipped(scope)) {
        assert.equal(z.data[s], fs.readFileSync(path.join(template, s)).toString('hex'), s);
        // The level-0 cache, its code objects naming where zipimport would compile the source from.
        const cache = fs.readFileSync(path.join(template, cachesOf(s)[0]!));
        assert.equal(z.data[`${s}c`], relocatePyc(cache, path.join(archive, s)).toString('hex'), s);
      }
      const du1 = duBytes(root, archive);
      assert.ok(
        Math.abs(du0.allocated - du1.allocated - p.saved.allocatedBytes) === 0,
        `du freed ${du0.allocated - du1.allocated}, planned ${p.saved.allocatedBytes}`,
      );

      // zipimport loads the level-0 bytecode (its source's time in the archive matches: not stale).
      const imp = spawnSync(
        py.exe,
        [
          '-I',
          '-v',
          '-c',
          // encodings is the interpreter's own (loaded at start); pydoc_data is not loaded yet.
          'import sys; sys.path.insert(0, sys.argv[1]); import pydoc_data.topics as m; print(m.__file__); print(m.__loader__.get_code(m.__name__).co_filename)',
          archive,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(imp.status, 0, imp.stderr);
      assert.deepEqual(imp.stdout.trim().split('\n'), [
        path.join(archive, 'pydoc_data/topics.pyc'),
        path.join(archive, 'pydoc_data/topics.py'),
      ]);
      assert.doesNotMatch(imp.stderr, /stale/);

      const again = await plan({ strategies: [id], path: root, workers: 0 });
      assert.equal(again.operations.length, 0);
      assert.match(again.refused[0]?.why ?? '', /exists: pyfloppy does not add to an existing archive/);
    });
  }

  it('refuses a root that is not a stdlib, and says why in the plan', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const other = path.join(work, 'not-stdlib');
    copyTree(template, other);
    const p = await plan({ strategies: ['zip-stdlib', 'drop-opt2'], path: other, workers: 0 });
    assert.deepEqual(p.strategies, ['zip-stdlib', 'drop-opt2']);
    assert.equal(p.refused[0]?.strategy, 'zip-stdlib');
    assert.match(p.refused[0].why, /needs a stdlib root/);
    assert.equal(p.counts.zip, 0);
    assert.ok(p.counts.remove > 0, 'the other strategy is still planned');
  });

  it('refuses, naming the member, when a file to be zipped changed; and when the timezone changed since the plan', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const { root, archive } = fresh();
    const p = await plan({ strategies: ['zip-data'], path: root, workers: 0 });
    const file = save(p, 'changed.json');
    const before = snapshot(root);
    const tz = process.env.TZ;
    try {
      // The DOS times in the archive are local times: another zone gives other bytes.
      process.env.TZ = 'Pacific/Chatham';
      const r = await apply({ planFile: file });
      assert.equal(r.outcome, 'refused');
      assert.match(r.mismatches[0]!.why, /another timezone/);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
    fs.appendFileSync(path.join(root, 'encodings/rot_x.py'), '# edited\n');
    const r2 = await apply({ planFile: file });
    assert.equal(r2.outcome, 'refused');
    assert.deepEqual(
      r2.mismatches.map((m) => m.path),
      ['encodings/rot_x.py'],
    );
    assert.ok(!fs.existsSync(archive));
    before.delete('encodings/rot_x.py');
    const now = snapshot(root);
    now.delete('encodings/rot_x.py');
    assert.deepEqual(now, before);
  });

  it('a stale level-0 cache, or one whose source predates 1980, is left out: the source goes in alone', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const { root, archive } = fresh();
    const old = new Date(1975, 0, 1);
    fs.utimesSync(path.join(root, 'pkg/core.py'), old, old);
    const p = await plan({ strategies: ['zip-stdlib'], path: root, workers: 0 });
    assert.ok(
      p.notes.some((n) => /^1 level-0 caches not zipped/.test(n)),
      p.notes.join(' | '),
    );
    const r = await apply({ planFile: save(p, 'stale.json') });
    assert.equal(r.outcome, 'applied', r.failure);
    const z = readZip(archive);
    assert.ok(z.names.includes('pkg/core.py'));
    assert.ok(!z.names.includes('pkg/core.pyc'));
    assert.ok(!fs.existsSync(path.join(root, 'pkg/__pycache__')), 'its caches went with the source');
    const imp = spawnSync(
      py.exe,
      [
        '-I',
        '-c',
        'import sys; sys.path.insert(0, sys.argv[1]); import pkg.core; print(pkg.core.g())',
        archive,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(imp.stdout.trim(), '3', imp.stderr);
  });

  it('--no-commit then --rollback (through a symlink to the root) restores every file and removes the archive', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const { root, archive } = fresh();
    const before = snapshot(root);
    const file = save(await plan({ strategies: ['zip-stdlib'], path: root, workers: 0 }), 'rb.json');
    const r = runCli(['apply', file, '--no-commit']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.existsSync(archive));
    // The archive is beside the real directory, not beside the symlink.
    const link = path.join(work, `link-${round}`);
    fs.symlinkSync(root, link);
    const rb = runCli(['apply', '--rollback', link]);
    assert.equal(rb.status, 0, rb.stderr);
    assert.ok(!fs.existsSync(archive));
    assert.deepEqual(snapshot(root), before);
  });

  it('a plan may name no path outside the root but a stdlib archive beside it', (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const base = {
      schema: 'pyfloppy.plan/1',
      root: '/x/lib/python3.13',
      rootFp: { dev: '1', ino: '2' },
      strategies: ['zip-stdlib'],
      removedModules: [],
      shippedLevels: [0],
      saved: { apparentBytes: 0, allocatedBytes: 0 },
    };
    const zipOp = (p: string) => ({
      op: 'zip',
      path: p,
      mode: 420,
      members: [],
      size: 22,
      sha256: '0'.repeat(64),
    });
    assert.doesNotThrow(() =>
      parsePlan(JSON.stringify({ ...base, operations: [zipOp('../python313.zip')] }), 'p'),
    );
    for (const bad of [
      [zipOp('../../python313.zip')],
      [zipOp('../evil.zip')],
      [{ op: 'remove', path: '../python313.zip' }],
      [{ op: 'zip', path: '../python313.zip', members: [{ name: 'a.py', from: '../a.py' }] }],
    ])
      assert.throws(
        () => parsePlan(JSON.stringify({ ...base, operations: bad }), 'p'),
        /not a plain relative path/,
      );
  });
});
