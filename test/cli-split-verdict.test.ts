/**
 * split as a user meets it: `--check FILE` answers with a verdict, not the lists it checked; a tree with an
 * unreadable directory cannot be shown to be covered (exit 1, said); `--policy sources` on what `plan
 * sourceless` leaves names that layout instead of denying it is one. Tiny trees, one CLI run each.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { removeTree, tempDir, writeTree } from './helpers/tree.js';

describe('split verdicts', () => {
  let root = '';
  before(() => {
    root = tempDir();
    writeTree(root, {
      'tree/pkg/__init__.py': '',
      'tree/pkg/a.py': 'A = 1\n',
      'tree/pkg/__pycache__/a.cpython-313.pyc': 'not really bytecode',
      // What `plan sourceless` leaves: level-0 bytecode where the source was, no source.
      'sourceless/pkg/__init__.pyc': 'bytecode',
      'sourceless/pkg/a.pyc': 'bytecode',
    });
  });
  after(() => removeTree(root));

  it('--check FILE prints the sections and the verdict, not every path', () => {
    const tree = path.join(root, 'tree');
    const file = path.join(root, 'split.json');
    const made = runCli(['split', tree, '--policy', 'bytecode', '--format', 'json']);
    assert.equal(made.status, 0, made.stderr);
    fs.writeFileSync(file, made.stdout);
    const r = runCli(['split', tree, '--check', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^check: ok \(disjoint ok, cover ok, subset ok\)$/m);
    assert.doesNotMatch(r.stdout, /%files|%ghost|a\.py/);
    // Asked for explicitly, the lists are still there.
    assert.match(runCli(['split', tree, '--check', file, '--format', 'list']).stdout, /a\.py/);
  });

  it('--policy sources on a sourceless layout says there are no sources left, not "not a sourceless layout"', () => {
    const r = runCli(['split', path.join(root, 'sourceless'), '--policy', 'sources', '--format', 'list']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /a sourceless layout with no sources left/);
    assert.doesNotMatch(r.stderr, /not a sourceless layout/);
  });

  it('an unreadable directory makes the check incomplete: exit 1, said on stderr and in the verdict', (t) => {
    const d = tempDir();
    try {
      writeTree(d, { 'ok/a.py': 'a = 1\n', 'locked/hidden.py': 'h = 1\n' });
      fs.chmodSync(path.join(d, 'locked'), 0o000);
      const out = tempDir();
      fs.chmodSync(out, 0o777);
      const r = runCli(['split', d, '--policy', 'tests', '--output-dir', out], { uid: 65534, gid: 65534 });
      removeTree(out);
      if (!have(t, r.status !== null, 'running a command as another user (root)')) return;
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^check: incomplete: 1 path could not be read/m);
      assert.match(r.stderr, /locked: permission denied/);
      assert.match(r.stderr, /^pyfloppy: check incomplete: /m);
    } finally {
      removeTree(d);
    }
  });
});
