/**
 * compile on Debian's own 3.11 stdlib, as a package build compiles a staged tree: `-s STAGE -p /` (strip the
 * staging directory, prepend /, so co_filename names /usr/lib/python3.11/...), at levels 0, 1 and 2, against
 * Debian's /usr/bin/python3.11 -m compileall with the same options on an identical extraction. The packages
 * of the stdlib proper (libpython3.11-minimal and -stdlib, 545 sources, all compiled: ~12 s here; dpkg -S
 * also names python3-distutils, python3-lib2to3, python3.11-venv and -dev, left out) are fetched with
 * `apt-get download` and unpacked with `dpkg-deb -x`; no network is a skip, in CI a failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { fastTempDir, linkGroups, removeTree, snapshot } from './helpers/tree.js';

const PYTHON = '/usr/bin/python3.11';
const PACKAGES = ['libpython3.11-minimal', 'libpython3.11-stdlib'];
const STDLIB = 'usr/lib/python3.11';

/** A program on PATH (or an absolute path) that runs. */
function runs(exe: string, args: string[]): boolean {
  return spawnSync(exe, args, { stdio: 'ignore' }).status === 0;
}

/** The packages' .deb files downloaded into dir, or why not (no network, no such package). */
function download(dir: string): string[] | string {
  const r = spawnSync('apt-get', ['download', ...PACKAGES], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  const debs = fs.readdirSync(dir).filter((n) => n.endsWith('.deb'));
  if (r.status !== 0 || debs.length !== PACKAGES.length)
    return `apt-get download ${PACKAGES.join(' ')} (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').pop()}`;
  return debs.map((n) => path.join(dir, n));
}

/** Each .deb unpacked into root (dpkg-deb keeps the packages' modes and mtimes: two extractions agree). */
function extract(debs: string[], root: string): void {
  fs.mkdirSync(root);
  for (const deb of debs) {
    const r = spawnSync('dpkg-deb', ['-x', deb, root], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
}

/** Every .pyc below dir: content hash and mode, and the inode groups among them. */
function caches(dir: string): { files: Record<string, string>; groups: string[][] } {
  const files: Record<string, string> = {};
  for (const [rel, s] of snapshot(dir))
    if (rel.endsWith('.pyc')) files[rel] = `${s.sha256} ${(s.mode & 0o7777).toString(8)}`;
  return { files, groups: linkGroups(dir, (rel) => rel.endsWith('.pyc')) };
}

describe("compile on Debian's 3.11 stdlib, staged (-s STAGE -p /), as compileall", () => {
  it('every cache at levels 0, 1, 2 byte for byte, the same links', (t) => {
    if (!have(t, runs(PYTHON, ['-c', 'pass']), `${PYTHON} (Debian's python3.11)`)) return;
    if (!have(t, runs('dpkg-deb', ['--version']) && runs('apt-get', ['--version']), 'apt-get and dpkg-deb'))
      return;
    const work = fastTempDir();
    try {
      const debs = download(work);
      if (typeof debs === 'string') {
        have(t, false, `the packages: ${debs}`);
        return;
      }
      const [theirs, ours] = [path.join(work, 'compileall'), path.join(work, 'pyfloppy')];
      extract(debs, theirs);
      extract(debs, ours);
      const options = ['-q', '-f', '-o0', '-o1', '-o2'];
      // PYTHONHASHSEED=0, as reproducible builds run it (frozensets of strings are written in hash order).
      const env = { ...process.env, PYTHONHASHSEED: '0' };
      const ca = spawnSync(
        PYTHON,
        [
          '-m',
          'compileall',
          ...options,
          '--hardlink-dupes',
          '-s',
          theirs,
          '-p',
          '/',
          path.join(theirs, STDLIB),
        ],
        { encoding: 'utf8', env },
      );
      assert.equal(ca.status, 0, ca.stdout + ca.stderr);
      const pf = runCli(
        ['compile', ...options, '--json', '--python', PYTHON, '-s', ours, '-p', '/', path.join(ours, STDLIB)],
        { env },
      );
      assert.equal(pf.status, 0, pf.stdout + pf.stderr);
      const report = JSON.parse(pf.stdout) as { sources: number; skipped: Array<{ path: string }> };
      assert.ok(report.sources > 500, `${report.sources} sources`);
      const want = caches(path.join(theirs, STDLIB));
      const got = caches(path.join(ours, STDLIB));
      // The one source left out on purpose: sitecustomize.py is a symlink to /etc/python3.11 (outside the
      // tree), which compileall follows and compile refuses (it reports it).
      const outside = 'sitecustomize.py';
      assert.deepEqual(
        report.skipped.map((s) => path.relative(path.join(ours, STDLIB), s.path)),
        [outside],
      );
      const expected = Object.keys(want.files).filter((k) => !k.startsWith('__pycache__/sitecustomize.'));
      assert.equal(expected.length, Object.keys(want.files).length - 3);
      assert.ok(expected.length > 1500, `${expected.length} caches`);
      assert.deepEqual(Object.keys(got.files).sort(), expected.sort());
      const differ = expected.filter((k) => got.files[k] !== want.files[k]);
      assert.deepEqual(differ, []);
      const groups = (g: string[][]) => g.filter((x) => !x[0]!.startsWith('__pycache__/sitecustomize.'));
      assert.deepEqual(got.groups, groups(want.groups));
      // And co_filename is the installed path, as -s/-p mean: one cache read back.
      const head = fs.readFileSync(path.join(ours, STDLIB, '__pycache__', 'abc.cpython-311.pyc'));
      assert.ok(head.includes(Buffer.from('/usr/lib/python3.11/abc.py')));
    } finally {
      removeTree(work);
    }
  });
});
