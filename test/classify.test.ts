import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { classify, dottedName } from '../src/model/classify.js';
import { footprint } from '../src/model/footprint.js';
import { KIND_NAMES } from '../src/model/kinds.js';
import { resolveRoots, scan } from '../src/scan/scan.js';
import { removeTree, tempDir, writeTree } from './helpers/tree.js';

describe('classify', () => {
  let root: string;
  before(() => {
    root = tempDir();
    writeTree(root, {
      'os.py': 'import sys\n',
      '__pycache__/os.cpython-312.pyc': 'pyc0',
      '__pycache__/os.cpython-312.opt-1.pyc': 'pyc1',
      '__pycache__/os.cpython-312.opt-2.pyc': 'pyc2',
      '__pycache__/os.cpython-311.pyc': 'foreign',
      '__pycache__/stray.pyc': 'no tag',
      'email/__init__.py': '',
      'email/mime/text.py': 'class MIMEText: pass\n',
      'email/mime/__pycache__/text.cpython-312.opt-2.pyc': 'pyc2',
      'lib-dynload/_json.cpython-312-x86_64-linux-gnu.so': 'ELF',
      'test/test_os.py': 'def test(): pass\n',
      'test/__pycache__/test_os.cpython-312.pyc': 'pyc0',
      'idlelib/idle_test/test_x.py': 'pass\n',
      'idlelib/run.py': 'pass\n',
      'old.pyc': 'legacy',
      'older.pyo': 'legacy',
      'README.txt': 'read me',
      'ensurepip/_bundled/pip-24.0-py3-none-any.whl': 'PK',
      'site-packages/foo/__init__.py': 'x = 1\n',
      'site-packages/foo/data/table.json': '{}',
      'site-packages/foo/__pycache__/__init__.cpython-312.pyc': 'pyc0',
      'site-packages/foo/tests/test_foo.py': 'pass\n',
      'site-packages/foo-1.0.dist-info/METADATA': 'Name: foo\n',
      'site-packages/foo-1.0.dist-info/RECORD':
        'foo/__init__.py,sha256=x,6\nfoo/data/table.json,,\n"foo/tests/test_foo.py",,\nfoo-1.0.dist-info/METADATA,,\nfoo-1.0.dist-info/RECORD,,\n../../bin/foo,,\n',
      'site-packages/bar.egg-info': 'Metadata-Version: 1.0\n',
      'site-packages/baz-2.0.egg-info/installed-files.txt': '../baz.py\nPKG-INFO\n',
      'site-packages/baz-2.0.egg-info/PKG-INFO': 'Name: baz\n',
      'site-packages/baz.py': 'pass\n',
      'site-packages/loose.py': 'pass\n',
    });
  });
  after(() => removeTree(root));

  const model = async () => {
    const s = await scan(resolveRoots([{ path: root }]));
    const c = classify(s);
    const byPath = new Map<string, number>();
    for (let i = 0; i < s.table.count; i++) byPath.set(s.table.relativePath(i), i);
    const at = (rel: string): number => {
      const i = byPath.get(rel);
      assert.ok(i !== undefined, `no entry ${rel}`);
      return i;
    };
    return { s, c, at };
  };

  it('gives every entry exactly one kind', async () => {
    const { c, at } = await model();
    const kind = (rel: string) => KIND_NAMES[c.kind[at(rel)]!];
    assert.equal(kind('os.py'), 'source');
    assert.equal(kind('__pycache__/os.cpython-312.pyc'), 'bytecode-0');
    assert.equal(kind('__pycache__/os.cpython-312.opt-1.pyc'), 'bytecode-1');
    assert.equal(kind('__pycache__/os.cpython-312.opt-2.pyc'), 'bytecode-2');
    assert.equal(kind('__pycache__/os.cpython-311.pyc'), 'bytecode-0');
    assert.equal(kind('__pycache__/stray.pyc'), 'legacy-bytecode');
    assert.equal(kind('old.pyc'), 'legacy-bytecode');
    assert.equal(kind('older.pyo'), 'legacy-bytecode');
    assert.equal(kind('lib-dynload/_json.cpython-312-x86_64-linux-gnu.so'), 'extension');
    assert.equal(kind('site-packages/foo-1.0.dist-info/RECORD'), 'metadata');
    assert.equal(kind('site-packages/bar.egg-info'), 'metadata');
    assert.equal(kind('site-packages/baz-2.0.egg-info/PKG-INFO'), 'metadata');
    assert.equal(kind('README.txt'), 'data');
    assert.equal(kind('ensurepip/_bundled/pip-24.0-py3-none-any.whl'), 'data');
    assert.equal(kind('email'), 'directory');
    assert.equal(kind(''), 'directory');
  });

  it('names modules relative to their sys.path directory', async () => {
    const { s, c, at } = await model();
    const top = (rel: string) => c.topNames[c.top[at(rel)]!];
    assert.equal(top('__pycache__/os.cpython-312.opt-1.pyc'), 'os');
    assert.equal(top('email/mime/__pycache__/text.cpython-312.opt-2.pyc'), 'email');
    assert.equal(top('lib-dynload/_json.cpython-312-x86_64-linux-gnu.so'), '_json');
    assert.equal(top('site-packages/foo/data/table.json'), 'foo');
    assert.equal(c.top[at('site-packages')], -1);
    assert.equal(c.top[at('lib-dynload')], -1);
    const dotted = (rel: string) => dottedName(s.table, c, at(rel));
    assert.equal(dotted('email/mime/text.py'), 'email.mime.text');
    assert.equal(dotted('email/mime/__pycache__/text.cpython-312.opt-2.pyc'), 'email.mime.text');
    assert.equal(dotted('email/__init__.py'), 'email');
    assert.equal(dotted('site-packages/foo/__pycache__/__init__.cpython-312.pyc'), 'foo');
    assert.equal(dotted('lib-dynload/_json.cpython-312-x86_64-linux-gnu.so'), '_json');
    assert.equal(dotted('__pycache__/os.cpython-312.pyc'), 'os');
  });

  it('marks test code', async () => {
    const { c, at } = await model();
    for (const rel of [
      'test/test_os.py',
      'test/__pycache__/test_os.cpython-312.pyc',
      'idlelib/idle_test/test_x.py',
      'site-packages/foo/tests/test_foo.py',
      'test',
    ]) {
      assert.equal(c.test[at(rel)], 1, rel);
    }
    for (const rel of ['idlelib/run.py', 'os.py', 'site-packages/foo/__init__.py'])
      assert.equal(c.test[at(rel)], 0, rel);
  });

  it('finds the distribution of each site-packages file from RECORD and installed-files.txt', async () => {
    const { c, at } = await model();
    const dist = (rel: string) => {
      const d = c.dist[at(rel)]!;
      return d === -1 ? null : `${c.distributions[d]!.name} ${c.distributions[d]!.version}`;
    };
    assert.equal(dist('site-packages/foo/__init__.py'), 'foo 1.0');
    assert.equal(dist('site-packages/foo/tests/test_foo.py'), 'foo 1.0');
    assert.equal(dist('site-packages/foo-1.0.dist-info/RECORD'), 'foo 1.0');
    // Not in RECORD: a cache compiled later belongs with its directory's package.
    assert.equal(dist('site-packages/foo/__pycache__/__init__.cpython-312.pyc'), 'foo 1.0');
    assert.equal(dist('site-packages/baz.py'), 'baz 2.0');
    assert.equal(dist('site-packages/loose.py'), null);
    assert.equal(dist('os.py'), null);
  });

  it("never reads a distribution's file list through a symlink", async () => {
    const d = tempDir();
    const outside = tempDir();
    try {
      writeTree(outside, { RECORD: 'evil/__init__.py,,\n' });
      writeTree(d, {
        'site-packages/evil/__init__.py': '',
        'site-packages/evil-1.0.dist-info/METADATA': 'Name: evil\n',
      });
      fs.symlinkSync(path.join(outside, 'RECORD'), path.join(d, 'site-packages/evil-1.0.dist-info/RECORD'));
      const s = await scan(resolveRoots([{ path: d }]));
      const c = classify(s);
      const init = Array.from({ length: s.table.count }, (_, i) => i).find(
        (i) => s.table.relativePath(i) === 'site-packages/evil/__init__.py',
      )!;
      assert.equal(c.dist[init], -1);
      assert.deepEqual(
        c.problems.map((p) => [p.code, p.message]),
        [['ELOOP', 'is a symlink (not followed)']],
      );
    } finally {
      removeTree(d);
      removeTree(outside);
    }
  });

  it('groups caches by module and tag', async () => {
    const { s, c } = await model();
    const groups: string[] = [];
    for (let g = 0; g < c.bytecode.count; g++) {
      const lv = [0, 1, 2].map((l) => c.bytecode.levels[3 * g + l]!);
      const any = lv.find((i) => i !== -1)!;
      groups.push(
        `${path.dirname(s.table.relativePath(any))} ${c.tags[c.bytecode.tag[g]!]} ${lv.map((i) => (i === -1 ? '-' : 'x')).join('')}`,
      );
    }
    assert.deepEqual(groups.sort(), [
      '__pycache__ cpython-311 x--',
      '__pycache__ cpython-312 xxx',
      'email/mime/__pycache__ cpython-312 --x',
      'site-packages/foo/__pycache__ cpython-312 x--',
      'test/__pycache__ cpython-312 x--',
    ]);
  });
});

describe('footprint', () => {
  it('counts a hardlinked inode once, under the lowest kind, and reports what the link saves', async () => {
    const root = tempDir();
    try {
      writeTree(root, { 'm.py': 'x = 1\n', '__pycache__/m.cpython-312.opt-1.pyc': 'b'.repeat(10_000) });
      fs.linkSync(
        path.join(root, '__pycache__/m.cpython-312.opt-1.pyc'),
        path.join(root, '__pycache__/m.cpython-312.pyc'),
      );
      fs.linkSync(
        path.join(root, '__pycache__/m.cpython-312.opt-1.pyc'),
        path.join(root, '__pycache__/m.cpython-312.opt-2.pyc'),
      );
      const s = await scan(resolveRoots([{ path: root }]));
      const c = classify(s);
      const fp = footprint(s, c);
      const totals = fp.all.totals();
      const blocks = fs.statSync(path.join(root, '__pycache__/m.cpython-312.pyc')).blocks * 512;
      assert.deepEqual(totals['bytecode-0'], {
        files: 1,
        paths: 1,
        apparentBytes: 10_000,
        allocatedBytes: blocks,
      });
      assert.deepEqual(totals['bytecode-1'], { files: 0, paths: 1, apparentBytes: 0, allocatedBytes: 0 });
      assert.deepEqual(totals['bytecode-2'], { files: 0, paths: 1, apparentBytes: 0, allocatedBytes: 0 });
      assert.deepEqual(fp.hardlinks, { extraPaths: 2, apparentBytes: 20_000, allocatedBytes: 2 * blocks });
    } finally {
      removeTree(root);
    }
  });
});
