/**
 * The native helper (native/at.c through src/fsops/at.ts) against Node's own calls on /proc/self/fd names:
 * the same files made, moved and removed, the same errors (code, syscall, message), and the same guarantee
 * (a directory opened, then swapped for a symlink to a decoy: the calls act in the opened directory, the
 * decoy is untouched). And the whole CLI with the helper switched off (PYFLOPPY_NATIVE=0), the fallback.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AtCalls, nativeAtCalls, procfsCalls } from '../src/fsops/at.js';
import { runCli } from './helpers/cli.js';
import { digest, hostileTree } from './helpers/hostile.js';
import { have } from './helpers/need.js';
import { cpython, interpreter } from './helpers/python.js';
import { fastTempDir, removeTree, writeTree } from './helpers/tree.js';

const DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY;

/** What a call did: 'ok' or its error's code, syscall and message (with the directory's fd masked). */
function outcome(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    const x = e as NodeJS.ErrnoException;
    return `${x.code} ${x.syscall} ${x.message.replace(/\/proc\/self\/fd\/\d+/g, 'FD')}`;
  }
}

/** A scenario of calls on a fresh directory `d` (opened as `/proc/self/fd/N`), each call's outcome listed. */
function scenario(calls: AtCalls, d: string): string[] {
  writeTree(d, { 'a.py': 'a', 'b.py': 'b', 'full/x': 'x' });
  fs.symlinkSync('full', path.join(d, 'link'));
  const fd = fs.openSync(d, DIR);
  const at = (name: string): string => `/proc/self/fd/${fd}/${name}`;
  try {
    return [
      outcome(() => calls.rename(at('a.py'), at('c.py'))),
      outcome(() => calls.rename(at('a.py'), at('d.py'))), // ENOENT
      outcome(() => calls.link(at('b.py'), at('c.py'))), // EEXIST
      outcome(() => calls.link(at('b.py'), at('e.py'))),
      outcome(() =>
        calls.link(Buffer.from(at('b.py')), Buffer.concat([Buffer.from(at('')), Buffer.from([0xff])])),
      ),
      outcome(() => calls.unlink(at('e.py'))),
      outcome(() => calls.unlink(at('full'))), // EISDIR
      outcome(() => calls.rmdir(at('full'))), // ENOTEMPTY
      outcome(() => calls.mkdir(at('new'))),
      outcome(() => calls.mkdir(at('new'))), // EEXIST
      outcome(() => calls.rmdir(at('new'))),
      outcome(() => calls.close(calls.openDir(at('full')))),
      outcome(() => calls.openDir(at('link'))), // ENOTDIR: never through a symlink
      outcome(() => calls.openDir(at('b.py'))), // ENOTDIR
      outcome(() => calls.close(calls.openNew(at('f.py'), 0o640))),
      outcome(() => calls.openNew(at('f.py'), 0o640)), // EEXIST
      outcome(() => calls.openNew(at('link'), 0o640)), // EEXIST: not created through the symlink
      `mode ${(fs.statSync(path.join(d, 'f.py')).mode & 0o777).toString(8)}`,
      `names ${fs
        .readdirSync(d, { encoding: 'buffer' })
        .map((n) => n.toString('hex'))
        .sort()
        .join(',')}`,
    ];
  } finally {
    fs.closeSync(fd);
  }
}

describe('the native helper', () => {
  let work = '';
  before(() => {
    work = fastTempDir();
  });
  after(() => removeTree(work));

  it('is built where a C compiler and Node headers are (CI installs gcc)', (t) => {
    if (!have(t, nativeAtCalls, 'build/at.node (native/build.mjs: a C compiler and node_api.h)')) return;
    assert.equal(nativeAtCalls.via, 'native');
    assert.equal(procfsCalls.via, 'procfs');
  });

  it('makes, moves and removes what Node does, and fails with the same errors', (t) => {
    if (!have(t, nativeAtCalls, 'build/at.node')) return;
    const viaNode = scenario(procfsCalls, path.join(work, 'node'));
    const viaNative = scenario(nativeAtCalls, path.join(work, 'native'));
    assert.deepEqual(viaNative, viaNode);
    // The scenario exercises failures, not only successes.
    for (const code of ['ENOENT', 'EEXIST', 'EISDIR', 'ENOTEMPTY', 'ENOTDIR'])
      assert.ok(
        viaNative.some((o) => o.startsWith(code)),
        `${code} in ${viaNative.join('\n')}`,
      );
  });

  it('acts in the directory it opened after that directory is swapped for a symlink to a decoy', (t) => {
    if (!have(t, nativeAtCalls, 'build/at.node')) return;
    for (const calls of [nativeAtCalls, procfsCalls]) {
      const base = path.join(work, `swap-${calls.via}`);
      writeTree(base, { 'tree/pkg/a.py': 'a', 'decoy/a.py': 'a' });
      const fd = fs.openSync(path.join(base, 'tree/pkg'), DIR);
      fs.renameSync(path.join(base, 'tree/pkg'), path.join(base, 'moved'));
      fs.symlinkSync(path.join(base, 'decoy'), path.join(base, 'tree/pkg'));
      const decoy = digest(path.join(base, 'decoy'));
      calls.rename(`/proc/self/fd/${fd}/a.py`, `/proc/self/fd/${fd}/b.py`);
      calls.link(`/proc/self/fd/${fd}/b.py`, `/proc/self/fd/${fd}/c.py`);
      calls.mkdir(`/proc/self/fd/${fd}/d`);
      fs.closeSync(fd);
      assert.equal(digest(path.join(base, 'decoy')), decoy, `${calls.via}: the decoy is untouched`);
      assert.deepEqual(fs.readdirSync(path.join(base, 'moved')).sort(), ['b.py', 'c.py', 'd'], calls.via);
    }
  });
});

describe('the CLI without the native helper (PYFLOPPY_NATIVE=0)', () => {
  const py = interpreter('3.13');
  const env = { PYFLOPPY_NATIVE: '0' };
  let work = '';
  before(() => {
    work = fastTempDir();
  });
  after(() => removeTree(work));

  it('apply, rollback, apply and dedup carry out the same work through /proc/self/fd', (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const tree = path.join(work, 'lib', 'python3.13');
    hostileTree(py, tree);
    const original = digest(tree);
    const file = path.join(work, 'plan.json');
    const made = runCli(['plan', 'sourceless', tree, '--python', py.exe, '-o', file], { env });
    assert.equal(made.status, 0, made.stderr);
    const applied = runCli(['apply', '--no-commit', file], { env });
    assert.equal(applied.status, 0, applied.stdout + applied.stderr);
    assert.notEqual(digest(tree), original, 'the layout changed the tree');
    const back = runCli(['apply', '--rollback', file], { env });
    assert.equal(back.status, 0, back.stdout + back.stderr);
    assert.equal(digest(tree), original, 'every path, inode and byte as before');
    const dedup = runCli(['dedup', tree], { env });
    assert.equal(dedup.status, 0, dedup.stdout + dedup.stderr);
    assert.match(dedup.stdout, /linked [1-9][\d,]* pairs/);
  });
});
