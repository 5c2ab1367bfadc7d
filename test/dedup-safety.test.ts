/**
 * The safety promises of dedup and of the link primitive, each with a test that fails if it breaks.
 * Races and failures are made real where this machine allows it (chattr, a read-only mount, 65,000 links),
 * and injected through the FsCalls seam otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { dedup } from '../src/dedup/dedup.js';
import { lstatFingerprint } from '../src/fsops/fingerprint.js';
import { type FsCalls, realCalls, replaceWithLink, TEMP_NAME } from '../src/fsops/link.js';
import { have, haveHere } from './helpers/need.js';
import { removeTree, snapshot, tempDir, writeTree } from './helpers/tree.js';

const TAG = 'cpython-313';
/** A module whose three levels are byte-identical (as for a module without docstrings or asserts). */
function triad(dir: string, mod: string, content: string): Record<string, string> {
  return {
    [`${dir}/${mod}.py`]: 'x = 1\n',
    [`${dir}/__pycache__/${mod}.${TAG}.pyc`]: content,
    [`${dir}/__pycache__/${mod}.${TAG}.opt-1.pyc`]: content,
    [`${dir}/__pycache__/${mod}.${TAG}.opt-2.pyc`]: content,
  };
}

const tempsIn = (root: string): string[] =>
  [...snapshot(root).keys()].filter((p) => TEMP_NAME.test(path.basename(p)));

describe('replaceWithLink', () => {
  let d: string;
  before(() => {
    d = tempDir();
  });
  after(() => removeTree(d));

  const pair = (name: string, a = 'same bytes', b = 'same bytes') => {
    const s = path.join(d, `${name}-s`);
    const t = path.join(d, `${name}-t`);
    fs.writeFileSync(s, a);
    fs.writeFileSync(t, b);
    return { s, t, expect: { survivor: lstatFingerprint(s)!, target: lstatFingerprint(t)! } };
  };

  it('links to a temporary sibling, then renames it over the target: the target exists at every instant', () => {
    const { s, t, expect } = pair('atomic');
    const log: string[] = [];
    const calls: FsCalls = {
      ...realCalls,
      link: (a, b) => {
        assert.ok(fs.existsSync(t), 'target exists before the link');
        log.push(
          `link ${path.basename(String(a))} ${path.dirname(String(b)) === d ? 'sibling' : 'elsewhere'}`,
        );
        realCalls.link(a, b);
      },
      rename: (a, b) => {
        assert.ok(fs.existsSync(t), 'target exists before the rename');
        log.push(
          `rename ${TEMP_NAME.test(path.basename(String(a))) ? 'temporary' : String(a)} ${path.basename(String(b))}`,
        );
        realCalls.rename(a, b);
        assert.ok(fs.existsSync(t), 'target exists after the rename');
      },
    };
    const r = replaceWithLink(s, t, expect, calls);
    assert.equal(r.ok, true);
    assert.deepEqual(log, ['link atomic-s sibling', 'rename temporary atomic-t']);
    assert.equal(fs.statSync(s).ino, fs.statSync(t).ino);
    assert.equal(fs.readFileSync(t, 'utf8'), 'same bytes');
    assert.deepEqual(tempsIn(d), []);
  });

  it('never overwrites a name that exists: a taken temporary name is passed over and kept intact', () => {
    const { s, t, expect } = pair('taken');
    let squatted: string | undefined;
    const calls: FsCalls = {
      ...realCalls,
      link: (a, b) => {
        if (squatted === undefined) {
          // Somebody else creates the very name we are about to use.
          squatted = String(b);
          fs.writeFileSync(squatted, 'not yours');
        }
        realCalls.link(a, b);
      },
    };
    assert.equal(replaceWithLink(s, t, expect, calls).ok, true);
    assert.equal(fs.readFileSync(squatted!, 'utf8'), 'not yours');
    fs.unlinkSync(squatted!);
    assert.deepEqual(tempsIn(d), []);
  });

  it('leaves no temporary behind when the two names are already one inode, or become one while it works', () => {
    const s = path.join(d, 'one-s');
    const t = path.join(d, 'one-t');
    fs.writeFileSync(s, 'same bytes');
    fs.linkSync(s, t);
    const fp = lstatFingerprint(s)!;
    const r = replaceWithLink(s, t, { survivor: fp, target: fp });
    assert.deepEqual(r, { ok: false, reason: 'already-linked', message: 'already one inode' });
    assert.deepEqual(tempsIn(d), []);
    // A concurrent deduplicator links the target between our link and our rename.
    const p = pair('race');
    const calls: FsCalls = {
      ...realCalls,
      link: (a, b) => {
        realCalls.link(a, b);
        fs.unlinkSync(p.t);
        fs.linkSync(p.s, p.t);
      },
    };
    const r2 = replaceWithLink(p.s, p.t, p.expect, calls);
    assert.equal(r2.ok, false);
    assert.deepEqual(tempsIn(d), []);
  });

  it('after the rename, removes its temporary name only while it is still the survivor: a name taken meanwhile is kept', () => {
    const { s, t, expect } = pair('retaken');
    let taken: string | undefined;
    const calls: FsCalls = {
      ...realCalls,
      rename: (a, b) => {
        realCalls.rename(a, b);
        // Another linker (another thread, another process) creates the name we just renamed away.
        taken = String(a);
        fs.writeFileSync(taken, 'somebody else');
      },
    };
    assert.equal(replaceWithLink(s, t, expect, calls).ok, true);
    assert.equal(fs.readFileSync(taken!, 'utf8'), 'somebody else');
    fs.unlinkSync(taken!);
    assert.equal(fs.statSync(s).ino, fs.statSync(t).ino);
  });

  it('refuses a file that changed since it was compared: mtime, content of the same size, replacement', () => {
    for (const change of ['mtime', 'content', 'replaced'] as const) {
      const { s, t, expect } = pair(`changed-${change}`);
      if (change === 'mtime') fs.utimesSync(t, new Date(2001, 1, 1), new Date(2001, 1, 1));
      if (change === 'content') {
        const st = fs.statSync(t);
        fs.writeFileSync(t, 'SAME BYTES'); // same size; put the mtime back: only ctime tells
        fs.utimesSync(t, st.atime, st.mtime);
      }
      if (change === 'replaced') {
        fs.unlinkSync(t);
        fs.writeFileSync(t, 'same bytes');
      }
      const before = fs.readFileSync(t, 'utf8');
      const r = replaceWithLink(s, t, expect);
      assert.equal(r.ok, false, change);
      assert.equal(r.ok === false && r.reason, 'changed', change);
      assert.equal(fs.readFileSync(t, 'utf8'), before);
      assert.notEqual(fs.statSync(t).ino, fs.statSync(s).ino);
    }
    assert.deepEqual(tempsIn(d), []);
  });

  it('skips with the errno for EXDEV, EMLINK, EPERM, EROFS, ENOTSUP, ENOSPC, and never copies instead', () => {
    for (const code of ['EXDEV', 'EMLINK', 'EPERM', 'EROFS', 'ENOTSUP', 'ENOSPC'] as const) {
      for (const at of ['link', 'rename'] as const) {
        const { s, t, expect } = pair(`${code}-${at}`);
        const ino = fs.statSync(t).ino;
        const fail = () => {
          throw Object.assign(new Error(`${code}: injected`), { code });
        };
        const calls: FsCalls = { ...realCalls, [at]: fail };
        const r = replaceWithLink(s, t, expect, calls);
        assert.equal(r.ok === false && r.reason, code, `${code} at ${at}`);
        assert.equal(fs.statSync(t).ino, ino, 'target untouched');
        assert.equal(fs.statSync(t).nlink, 1);
      }
    }
    assert.deepEqual(tempsIn(d), []);
  });
});

describe('dedup safety', () => {
  it('re-checks both files right before each link: a file changed after the comparison is skipped and reported', async () => {
    const root = tempDir();
    try {
      writeTree(root, { ...triad('a', 'm', 'bytecode'), ...triad('b', 'n', 'other bytecode') });
      const victim = path.join(root, `a/__pycache__/m.${TAG}.opt-1.pyc`);
      let touched = false;
      const calls: FsCalls = {
        ...realCalls,
        lstat: (p) => {
          // The calls see names inside verified directories (/proc/self/fd/N/NAME): matched by file name.
          if (!touched && String(p).endsWith(`/${path.basename(victim)}`)) {
            touched = true;
            fs.utimesSync(victim, new Date(2003, 1, 1), new Date(2003, 1, 1)); // after compare, before link
          }
          return realCalls.lstat(p);
        },
      };
      const r = await dedup({ paths: [root], calls });
      // Level 1 changed: nothing is linked to it or replaced by a link (0-1 and 1-2 both skipped); the other
      // module is deduplicated fully.
      assert.deepEqual(
        r.skipped.map((s) => [path.relative(root, s.target), s.reason]),
        [
          [`a/__pycache__/m.${TAG}.opt-1.pyc`, 'changed'],
          [`a/__pycache__/m.${TAG}.opt-2.pyc`, 'changed'],
        ],
      );
      assert.equal(r.saved.pairs, 2);
      assert.equal(fs.readFileSync(victim, 'utf8'), 'bytecode');
      assert.deepEqual(tempsIn(root), []);
    } finally {
      removeTree(root);
    }
  });

  it('never follows a symlink, and never acts outside the roots', async () => {
    const root = tempDir();
    const outside = tempDir();
    try {
      writeTree(outside, { ...triad('o', 'm', 'outside bytes') });
      writeTree(root, { 'p/m.py': 'x = 1\n', [`p/__pycache__/m.${TAG}.pyc`]: 'outside bytes' });
      // A cache that is a symlink to an identical file outside, and a directory symlink to the outside tree.
      fs.symlinkSync(
        path.join(outside, `o/__pycache__/m.${TAG}.opt-1.pyc`),
        path.join(root, `p/__pycache__/m.${TAG}.opt-1.pyc`),
      );
      fs.symlinkSync(outside, path.join(root, 'link-to-outside'));
      const before = snapshot(outside);
      const r = await dedup({ paths: [root], all: true });
      assert.equal(r.saved.pairs, 0);
      assert.deepEqual(snapshot(outside), before);
      assert.ok(fs.lstatSync(path.join(root, `p/__pycache__/m.${TAG}.opt-1.pyc`)).isSymbolicLink());
    } finally {
      removeTree(root);
      removeTree(outside);
    }
  });

  it('treats the same inode reached twice as one file: a root given twice, a root inside another', async () => {
    const root = tempDir();
    try {
      writeTree(root, { ...triad('a', 'm', 'one'), ...triad('a/b', 'n', 'two') });
      const r = await dedup({ paths: [root, root, path.join(root, 'a/b'), `${root}/.`] });
      assert.deepEqual(r.skipped, []);
      assert.equal(r.saved.pairs, 4);
      assert.equal(fs.statSync(path.join(root, `a/b/__pycache__/n.${TAG}.opt-2.pyc`)).nlink, 3);
    } finally {
      removeTree(root);
    }
  });

  it('lets the other file survive when the survivor has as many links as the file system allows (EMLINK)', async (t) => {
    const root = tempDir();
    try {
      const fsType = spawnSync('stat', ['-f', '-c', '%T', root], { encoding: 'utf8' }).stdout.trim();
      const ext4 = fsType === 'ext2/ext3';
      if (!haveHere(t, ext4, `a temporary directory on ext4 (65,000 links); ${root} is on ${fsType}`)) return;
      writeTree(root, {
        'm.py': 'x = 1\n',
        [`__pycache__/m.${TAG}.pyc`]: 'bytes',
        [`__pycache__/m.${TAG}.opt-1.pyc`]: 'bytes',
      });
      const level0 = path.join(root, `__pycache__/m.${TAG}.pyc`);
      // Inside the tree: an inode also named outside it is left alone (issue 19), never linked.
      const many = path.join(root, 'many');
      fs.mkdirSync(many);
      try {
        let n = 1;
        for (;;) {
          try {
            fs.linkSync(level0, path.join(many, String(n++)));
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'EMLINK') break;
            throw e;
          }
        }
        const r = await dedup({ paths: [root] });
        assert.deepEqual(r.skipped, []);
        assert.equal(r.linked.length, 1);
        // Level 1's inode survived; level 0's name now points to it.
        assert.equal(path.basename(r.linked[0]!.survivor), `m.${TAG}.opt-1.pyc`);
        assert.equal(
          fs.statSync(level0).ino,
          fs.statSync(path.join(root, `__pycache__/m.${TAG}.opt-1.pyc`)).ino,
        );
        assert.equal(fs.readFileSync(level0, 'utf8'), 'bytes');
      } finally {
        fs.rmSync(many, { recursive: true, force: true });
      }
    } finally {
      removeTree(root);
    }
  });

  it('skips and reports a real EPERM (immutable file) and a real EROFS (read-only mount), and goes on', async (t) => {
    const root = tempDir();
    const mnt = path.join(root, 'ro');
    let mounted = false;
    try {
      writeTree(root, { ...triad('imm', 'm', 'immutable'), ...triad('ok', 'n', 'fine') });
      const locked = path.join(root, `imm/__pycache__/m.${TAG}.opt-1.pyc`);
      const immutable = spawnSync('chattr', ['+i', locked]).status === 0;
      if (!have(t, immutable, 'chattr +i (root, and a file system with immutable files)')) return;
      fs.mkdirSync(mnt);
      mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]).status === 0;
      if (!have(t, mounted, 'mounting a tmpfs (root, CAP_SYS_ADMIN), for the EROFS half')) return;
      writeTree(mnt, triad('r', 'q', 'read-only'));
      assert.equal(spawnSync('mount', ['-o', 'remount,ro', mnt]).status, 0);
      const r = await dedup({ paths: [root] });
      const reasons = r.skipped.map((s) => `${path.relative(root, s.target)} ${s.reason}`).sort();
      // Level 1 is immutable: it can be neither replaced (0-1) nor given another name (1-2).
      assert.deepEqual(reasons, [
        `imm/__pycache__/m.${TAG}.opt-1.pyc EPERM`,
        `imm/__pycache__/m.${TAG}.opt-2.pyc EPERM`,
        `ro/r/__pycache__/q.${TAG}.opt-1.pyc EROFS`,
        `ro/r/__pycache__/q.${TAG}.opt-2.pyc EROFS`,
      ]);
      // The others went ahead.
      assert.equal(fs.statSync(path.join(root, `ok/__pycache__/n.${TAG}.opt-2.pyc`)).nlink, 3);
      assert.equal(r.saved.pairs, 2);
      assert.deepEqual(tempsIn(root), []);
      spawnSync('chattr', ['-i', locked]);
    } finally {
      if (mounted) spawnSync('umount', [mnt]);
      spawnSync('chattr', ['-R', '-i', root]);
      removeTree(root);
    }
  });

  it("keeps the survivor's metadata; reports twins whose mode, owner or mtime differ: linked (bytecode), skipped (--all)", async () => {
    const root = tempDir();
    try {
      writeTree(root, {
        ...triad('a', 'm', 'bytecode'),
        'data/one.txt': 'identical data',
        'data/two.txt': 'identical data',
        'data/three.txt': 'identical data',
        'data/x-owner.txt': 'identical data',
        'data/y-mtime.txt': 'identical data',
        'data/empty1.txt': '',
        'data/empty2.txt': '',
      });
      const l0 = path.join(root, `a/__pycache__/m.${TAG}.pyc`);
      const l1 = path.join(root, `a/__pycache__/m.${TAG}.opt-1.pyc`);
      fs.chmodSync(l0, 0o644);
      fs.chmodSync(l1, 0o600);
      const when = new Date(2020, 1, 1);
      fs.utimesSync(l0, when, when);
      fs.utimesSync(l1, when, when);
      for (const f of ['one', 'two', 'three', 'x-owner'])
        fs.utimesSync(path.join(root, `data/${f}.txt`), when, when);
      // Twins that differ only by mode, only by owner, only by mtime (a second later).
      fs.chmodSync(path.join(root, 'data/three.txt'), 0o600);
      fs.chownSync(path.join(root, 'data/x-owner.txt'), 65534, 65534);
      const later = new Date(when.getTime() + 1000);
      fs.utimesSync(path.join(root, 'data/y-mtime.txt'), later, later);
      const r = await dedup({ paths: [root], all: true });
      const l01 = r.linked.find((p) => p.target === l1)!;
      assert.deepEqual(l01.metadataDiffers, ['mode']);
      assert.equal(fs.statSync(l1).mode & 0o777, 0o644); // the survivor's (level 0's) mode
      assert.equal(
        fs.statSync(path.join(root, 'data/one.txt')).ino,
        fs.statSync(path.join(root, 'data/two.txt')).ino,
      );
      const inodes = new Set(
        ['one', 'three', 'x-owner', 'y-mtime'].map((f) => fs.statSync(path.join(root, `data/${f}.txt`)).ino),
      );
      assert.equal(inodes.size, 4, 'no twin of another mode, owner or mtime linked');
      assert.deepEqual(r.skipped.map((s) => [s.reason, path.basename(s.target), s.message]).sort(), [
        ['metadata', 'three.txt', 'identical bytes, but mode differs'],
        ['metadata', 'x-owner.txt', 'identical bytes, but owner differs'],
        ['metadata', 'y-mtime.txt', 'identical bytes, but mtime differs'],
      ]);
      // Empty files are never linked.
      assert.notEqual(
        fs.statSync(path.join(root, 'data/empty1.txt')).ino,
        fs.statSync(path.join(root, 'data/empty2.txt')).ino,
      );
    } finally {
      removeTree(root);
    }
  });

  it('a dry run changes nothing and lists what a real run then does', async () => {
    const root = tempDir();
    try {
      writeTree(root, {
        ...triad('a', 'm', 'x'),
        ...triad('b', 'n', 'y'),
        'c/p.txt': 'same',
        'c/q.txt': 'same',
      });
      const when = new Date(2020, 1, 1);
      for (const f of ['c/p.txt', 'c/q.txt']) fs.utimesSync(path.join(root, f), when, when);
      const before = snapshot(root);
      const dry = await dedup({ paths: [root], all: true, dryRun: true });
      assert.deepEqual(snapshot(root), before);
      const real = await dedup({ paths: [root], all: true });
      assert.deepEqual(
        dry.linked.map((p) => [p.survivor, p.target]),
        real.linked.map((p) => [p.survivor, p.target]),
      );
      assert.deepEqual(dry.saved, real.saved);
      assert.equal(real.saved.pairs, 5);
    } finally {
      removeTree(root);
    }
  });

  it('worker threads never choose the same temporary name (they share the process id)', async () => {
    const mod = new URL('../src/fsops/temp.js', import.meta.url).href;
    const first = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const w = new Worker(
          `import('${mod}').then((m) => require('node:worker_threads').parentPort.postMessage(m.tempName('link')));`,
          { eval: true },
        );
        w.once('message', (n: string) => {
          resolve(n);
          void w.terminate();
        });
        w.once('error', reject);
      });
    const [a, b] = await Promise.all([first(), first()]);
    assert.match(a, TEMP_NAME);
    assert.match(b, TEMP_NAME);
    assert.notEqual(a, b);
  });

  it('links thousands of groups in one directory with two worker threads and skips none', async () => {
    const root = tempDir();
    try {
      const files: Record<string, string> = {};
      for (let i = 0; i < 3000; i++) Object.assign(files, triad('.', `m${i}`, `bytes of module ${i}`));
      writeTree(root, files);
      const r = await dedup({ paths: [root], workers: 2 });
      assert.deepEqual(r.skipped, []);
      assert.equal(r.saved.pairs, 6000);
      assert.deepEqual(tempsIn(root), []);
    } finally {
      removeTree(root);
    }
  });
});
