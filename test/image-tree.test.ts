/**
 * The container's file system as layers build it (OCI image spec, "Representing Changes"): whiteouts and
 * opaque directories remove only what earlier layers put there, whatever the order of the members in the
 * layer; hard links are names of one inode; what is hidden is recorded with the layer that hid it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImageTree, N_DIR, N_FILE } from '../src/image/tree.js';

const file = (
  size: number,
): { type: number; size: number; mode: number; uid: number; gid: number; mtimeMs: number } => ({
  type: N_FILE,
  size,
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtimeMs: 0,
});
const dir = { ...file(0), type: N_DIR };

function layer(
  tree: ImageTree,
  k: number,
  members: Array<[string, number | 'dir' | { link: string }]>,
): void {
  tree.current = k;
  for (const [name, what] of members) {
    const parts = tree.parts(name);
    if (tree.whiteout(parts)) continue;
    if (what === 'dir') tree.add(parts, dir);
    else if (typeof what === 'number') tree.add(parts, file(what));
    else tree.link(parts, what.link);
  }
}

function names(tree: ImageTree, path: string): string[] {
  const n = tree.lookup(path === '' ? [] : path.split('/'));
  return [...(tree.kids[n]?.keys() ?? [])].sort();
}

test('a whiteout removes what earlier layers put there, not what its own layer adds, in any order', () => {
  const t = new ImageTree('test');
  layer(t, 0, [
    ['a/x.py', 10],
    ['a/y.py', 20],
    ['a/sub/z.py', 30],
  ]);
  layer(t, 1, [
    ['a/y.py', 25], // re-added in the same layer as its whiteout, before it: stays
    ['a/.wh.y.py', 0],
    ['a/.wh.sub', 0],
  ]);
  assert.deepEqual(names(t, 'a'), ['x.py', 'y.py']);
  assert.equal(t.size[t.inode[t.lookup(['a', 'y.py'])]!], 25);
  // The old y.py (20) and sub/z.py (30) are shipped in layer 1's lower layer and hidden by layer 2.
  const hidden = t.size.filter((_, i) => t.hiddenBy[i] === 1 && t.type[i] === N_FILE);
  assert.deepEqual(hidden.sort(), [20, 30]);
});

test('an opaque directory hides the earlier contents, keeps its own layer and is a directory still', () => {
  const t = new ImageTree('test');
  layer(t, 0, [
    ['m/old.py', 1],
    ['m/deep/old2.py', 2],
  ]);
  layer(t, 1, [
    ['m/new.py', 3], // before the marker in the tar: kept
    ['m/.wh..wh..opq', 0],
    ['m/newer.py', 4],
  ]);
  assert.deepEqual(names(t, 'm'), ['new.py', 'newer.py']);
  assert.equal(t.lookup(['m', 'deep']), -1);
});

test('hard links share one inode; the inode is hidden only when its last name goes', () => {
  const t = new ImageTree('test');
  layer(t, 0, [
    ['p/a.pyc', 100],
    ['p/b.pyc', { link: 'p/a.pyc' }],
  ]);
  const a = t.inode[t.lookup(['p', 'a.pyc'])]!;
  assert.equal(t.inode[t.lookup(['p', 'b.pyc'])], a);
  assert.equal(t.names[a], 2);
  layer(t, 1, [['p/.wh.a.pyc', 0]]);
  assert.equal(t.hiddenBy[a], -1, 'still reachable as b.pyc');
  layer(t, 2, [['p/.wh.b.pyc', 0]]);
  assert.equal(t.hiddenBy[a], 2);
});

test('a file replaced by a directory, and names that leave the image', () => {
  const t = new ImageTree('test');
  layer(t, 0, [['x', 5]]);
  layer(t, 1, [['x/inner.py', 6]]);
  assert.deepEqual(names(t, 'x'), ['inner.py']);
  assert.throws(() => t.parts('../etc/passwd'), /leaves the image/);
  assert.throws(() => t.parts('/etc/passwd'), /leaves the image/);
  assert.throws(() => layer(t, 2, [['y', { link: 'nowhere' }]]), /no such file in the image/);
});
