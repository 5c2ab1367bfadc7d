import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { DedupReport } from 'pyfloppy';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { copyTree, linkGroups, removeTree, snapshot, tempDir, writeTree } from './helpers/tree.js';

const TAG = 'cpython-312';

function fixture(root: string): void {
  writeTree(root, {
    'pkg/__init__.py': '',
    'pkg/plain.py': '1\n',
    [`pkg/__pycache__/plain.${TAG}.pyc`]: 'all three the same',
    [`pkg/__pycache__/plain.${TAG}.opt-1.pyc`]: 'all three the same',
    [`pkg/__pycache__/plain.${TAG}.opt-2.pyc`]: 'all three the same',
    'pkg/doc.py': '"""Doc."""\n',
    [`pkg/__pycache__/doc.${TAG}.pyc`]: 'with docstring',
    [`pkg/__pycache__/doc.${TAG}.opt-1.pyc`]: 'with docstring',
    [`pkg/__pycache__/doc.${TAG}.opt-2.pyc`]: 'without',
    'vendored/a/util.py': 'def f(): pass\n',
    'vendored/b/util.py': 'def f(): pass\n',
    'vendored/c/util.py': 'def f(): pass\n',
    'data/x.bin': 'x'.repeat(5000),
    'data/y.bin': 'x'.repeat(5000),
    'data/z.bin': `${'x'.repeat(4999)}y`,
    'data/empty1': '',
    'data/empty2': '',
  });
  // One mtime for everything, as a package manager installs it; one twin with another mode.
  const when = new Date(2024, 0, 1);
  for (const rel of snapshot(root).keys()) fs.utimesSync(path.join(root, rel), when, when);
  fs.chmodSync(path.join(root, 'vendored/c/util.py'), 0o600);
}

describe('pyfloppy dedup (the built CLI)', () => {
  it('--help explains the rule, the safety and every option', () => {
    const r = runCli(['dedup', '--help']);
    assert.equal(r.status, 0);
    for (const s of [
      '--all',
      '--dry-run',
      '--json',
      '--verbose',
      'compileall --hardlink-dupes',
      'Exit status',
    ]) {
      assert.ok(r.stdout.includes(s), `dedup --help lacks ${s}`);
    }
  });

  it('links the compileall pairs, prints what it did, and a second run has nothing to do (exit 0 both times)', () => {
    const root = tempDir();
    try {
      fixture(root);
      const r = runCli(['dedup', root]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        r.stdout,
        /^pyfloppy dedup: linked 3 pairs \(3 bytecode\), freed .* on disk \(.* apparent\)$/m,
      );
      assert.deepEqual(linkGroups(root), [
        [`pkg/__pycache__/doc.${TAG}.opt-1.pyc`, `pkg/__pycache__/doc.${TAG}.pyc`],
        [
          `pkg/__pycache__/plain.${TAG}.opt-1.pyc`,
          `pkg/__pycache__/plain.${TAG}.opt-2.pyc`,
          `pkg/__pycache__/plain.${TAG}.pyc`,
        ],
      ]);
      const again = runCli(['dedup', root]);
      assert.equal(again.status, 0);
      assert.match(again.stdout, /linked 0 pairs/);
      assert.match(again.stdout, /^already linked: 3 pairs$/m);
    } finally {
      removeTree(root);
    }
  });

  it('--dry-run --all lists the pairs, changes nothing; --json is the versioned report', () => {
    const root = tempDir();
    try {
      fixture(root);
      const before = snapshot(root);
      const dry = runCli(['dedup', '--all', '--dry-run', root]);
      assert.equal(dry.status, 0, dry.stderr);
      assert.deepEqual(snapshot(root), before);
      assert.match(
        dry.stdout,
        /\(dry run: nothing changed\): would link 5 pairs \(3 bytecode, 2 identical files\)/,
      );
      assert.match(dry.stdout, /^would link \(target => survivor\):$/m);
      assert.match(
        dry.stdout,
        /vendored\/c\/util\.py => .*vendored\/a\/util\.py: identical bytes, but mode differs \(metadata\)/,
      );
      assert.match(dry.stdout, /vendored\/b\/util\.py => .*vendored\/a\/util\.py$/m);
      const json = runCli(['dedup', '--all', '--json', root]);
      assert.equal(json.status, 0); // a metadata difference is a policy, not an error
      const report = JSON.parse(json.stdout) as DedupReport;
      assert.equal(report.schema, 'pyfloppy.dedup/1');
      assert.equal(report.saved.pairs, 5);
      assert.deepEqual(
        report.skipped.map((s) => s.reason),
        ['metadata'],
      );
      assert.equal(
        fs.statSync(path.join(root, 'data/x.bin')).ino,
        fs.statSync(path.join(root, 'data/y.bin')).ino,
      );
    } finally {
      removeTree(root);
    }
  });

  it('--all links the same groups as util-linux hardlink (same owner, mode and mtime; no empty files)', (t) => {
    if (!have(t, spawnSync('hardlink', ['--version']).status === 0, "util-linux's hardlink")) return;
    const work = tempDir();
    try {
      const mine = path.join(work, 'mine');
      const theirs = path.join(work, 'theirs');
      fs.mkdirSync(mine);
      fixture(mine);
      // Twins beside the fixture's mode twin: one of another owner, one of another group, one a second
      // newer; and a pair that is alike in all (linked by both).
      const when = new Date(2024, 0, 1);
      const later = new Date(2024, 0, 1, 0, 0, 1);
      writeTree(
        mine,
        Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((n) => [`twins/${n}.txt`, 'twin bytes'])),
      );
      for (const n of ['a', 'b', 'c', 'd']) fs.utimesSync(path.join(mine, `twins/${n}.txt`), when, when);
      fs.utimesSync(path.join(mine, 'twins/e.txt'), later, later);
      fs.chownSync(path.join(mine, 'twins/c.txt'), 65534, 0);
      fs.chownSync(path.join(mine, 'twins/d.txt'), 0, 65534);
      copyTree(mine, theirs);
      assert.equal(runCli(['dedup', '--all', mine]).status, 0);
      const r = spawnSync('hardlink', ['-q', theirs], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(linkGroups(mine), linkGroups(theirs));
      assert.ok(linkGroups(mine).some((g) => g.join() === 'twins/a.txt,twins/b.txt'));
    } finally {
      removeTree(work);
    }
  });

  it('exits 1 when a pair is skipped for an error, 2 for a usage error', (t) => {
    const missing = runCli(['dedup', '/nonexistent/pyfloppy']);
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr, 'pyfloppy: error: no such file or directory: /nonexistent/pyfloppy\n');
    const none = runCli(['dedup']);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /missing required argument 'path'/);
    const root = tempDir();
    try {
      fixture(root);
      const locked = path.join(root, `pkg/__pycache__/doc.${TAG}.opt-1.pyc`);
      const immutable = spawnSync('chattr', ['+i', locked]).status === 0;
      if (!have(t, immutable, 'chattr +i (root, and a file system with immutable files)')) return;
      const r = runCli(['dedup', root]);
      spawnSync('chattr', ['-i', locked]);
      assert.equal(r.status, 1);
      assert.match(r.stdout, /^skipped 1 pair:$/m);
      assert.match(
        r.stdout,
        /doc\.cpython-312\.opt-1\.pyc => .*doc\.cpython-312\.pyc: rename: .* \(EPERM\)$/m,
      );
    } finally {
      spawnSync('chattr', ['-R', '-i', root]);
      removeTree(root);
    }
  });
});
