/**
 * Issue 19, the plan side: hand-edited plans are refused whole before anything is touched (a link between
 * files that differ, an unknown operation, a missing fingerprint, paths outside the root or named twice),
 * while the plans `plan` writes for every strategy are accepted; a plan on a tree the scan could not read
 * whole (an unreadable directory, a path longer than PATH_MAX, a name that is not UTF-8) plans no `rmdir` of
 * a directory that is not empty and says what it left in its notes; an errno ends in one error line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Plan, parsePlan, PLANNABLE, plan } from '../src/plan/plan.js';
import { type CliResult, runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { compileAllLevels, interpreter, cpython } from './helpers/python.js';
import { removeTree, snapshot, tempDir, writeTree } from './helpers/tree.js';

const NOBODY = { uid: 65534, gid: 65534 };

/** A file's fingerprint as `plan` records it: true, so only the content check can refuse a link. */
function fpOf(abs: string): Record<string, unknown> {
  const st = fs.lstatSync(abs, { bigint: true });
  return {
    dev: st.dev.toString(),
    ino: st.ino.toString(),
    size: Number(st.size),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
    sha256: crypto.createHash('sha256').update(fs.readFileSync(abs)).digest('hex'),
  };
}

/** Refused: exit 2, one error line (and its hint), no stack trace. */
function assertRefused(r: CliResult, message: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error|TypeError|\n\s+at /);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('pyfloppy: error: '));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, message);
}

function planJson(r: CliResult): Plan {
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Plan;
}

const rmdirs = (p: Plan): string[] => p.operations.flatMap((o) => (o.op === 'rmdir' ? [o.path] : []));

describe('hand-edited plans', () => {
  let work: string;
  let root: string;
  let base: Plan;
  before(() => {
    work = tempDir();
    root = path.join(work, 'tree');
    writeTree(root, {
      'os.py': 'import abc\n',
      'abc.py': 'class ABC: pass\n',
      'pkg/__init__.py': '',
      'pkg/tests/__init__.py': '',
      'pkg/tests/test_x.py': 'def test(): pass\n',
      'pkg/tests/test_y.py': 'def test(): pass\n',
    });
    base = planJson(runCli(['plan', 'strip-tests', root]));
  });
  after(() => removeTree(work));

  /** Apply `base` with these operations added (or replacing them): refused, nothing changed. */
  function refusedWith(ops: unknown[], message: RegExp, replace = false): void {
    const file = path.join(work, 'edited.json');
    const operations = replace ? ops : [...base.operations, ...ops];
    fs.writeFileSync(file, JSON.stringify({ ...base, operations }));
    const state = snapshot(root);
    assertRefused(runCli(['apply', file]), message);
    assert.deepEqual(snapshot(root), state);
    assert.ok(!fs.existsSync(path.join(root, '.pyfloppy-journal')));
  }

  it('a link between two files with different SHA-256 is refused, both fingerprints true', () => {
    const link = {
      op: 'link',
      path: 'os.py',
      target: 'abc.py',
      frees: { apparentBytes: 0, allocatedBytes: 0 },
    };
    refusedWith(
      [{ ...link, fp: fpOf(path.join(root, 'os.py')), targetFp: fpOf(path.join(root, 'abc.py')) }],
      /operation 4 \(link\): os\.py and abc\.py differ \(sha256 [0-9a-f]{64} vs [0-9a-f]{64}\)/,
    );
  });

  it('an unknown operation (chmod) is refused, naming it and its index', () => {
    refusedWith([{ op: 'chmod', path: 'os.py', mode: 0o777 }], /operation 4: unknown operation 'chmod'/);
  });

  it('an operation without fp is one error line, not a TypeError', () => {
    const { fp: _, ...bare } = base.operations[0] as Extract<Plan['operations'][number], { op: 'remove' }>;
    refusedWith([bare, ...base.operations.slice(1)], /operation 0 \(remove\): fp is missing/, true);
    const badFp = { ...base.operations[0], fp: { dev: 1, ino: '2' } };
    refusedWith([badFp, ...base.operations.slice(1)], /operation 0 \(remove\): fp is malformed/, true);
  });

  it('paths outside the root, and paths named twice, are refused', () => {
    const remove = base.operations.find((o) => o.op === 'remove')!;
    for (const p of ['../outside.py', '/etc/passwd', 'pkg/../os.py'])
      refusedWith([{ ...remove, path: p }], /is not a plain relative path/);
    // Two removes of one path; a link whose path is removed too (both files equal, fingerprints true).
    refusedWith(
      [remove],
      /operation 4 \(remove\) names pkg\/tests\/\S+, which operation \d \(remove\) already/,
    );
    const [x, y] = ['pkg/tests/test_x.py', 'pkg/tests/test_y.py'];
    const link = { op: 'link', path: x, target: y, frees: { apparentBytes: 0, allocatedBytes: 0 } };
    const fps = { fp: fpOf(path.join(root, x)), targetFp: fpOf(path.join(root, y)) };
    refusedWith(
      [{ ...link, ...fps }],
      /operation 4 \(link\) names pkg\/tests\/test_[xy]\.py, which operation \d \(remove\) already/,
    );
    // Something named below a directory after its rmdir.
    refusedWith([{ op: 'mkdir', path: 'pkg/tests/new', mode: 0o755 }], /inside pkg\/tests which operation 3/);
  });
});

describe('plans of every strategy are accepted whole', () => {
  it('on a compiled stdlib-like tree, every plannable strategy and the combinations', async (t) => {
    if (!have(t, interpreter('3.13'), cpython('3.13'))) return;
    const work = tempDir();
    try {
      const root = path.join(work, 'lib/python3.13');
      writeTree(root, {
        'os.py': 'X = 1\n',
        'abc.py': '"""Doc."""\nclass ABC: pass\n',
        'encodings/__init__.py': 'E = 1\n',
        'pkg/__init__.py': '',
        'pkg/core.py': 'def f():\n    """Doc."""\n    assert True\n',
        'pkg/same.py': 'Y = 2\n',
        'pkg/tests/__init__.py': '',
        'pkg/tests/test_core.py': 'def test(): pass\n',
      });
      compileAllLevels(interpreter('3.13')!, root);
      const sets = [...PLANNABLE.map((s) => [s]), ['strip-tests', 'zip-stdlib', 'drop-opt2', 'dedup']];
      sets.push(['strip-tests', 'pysources', 'dedup'], ['zip-data', 'sourceless', 'dedup']);
      for (const s of sets) {
        const p = await plan({ strategies: s, path: root, workers: 0, python: interpreter('3.13')!.exe });
        assert.doesNotThrow(() => parsePlan(JSON.stringify(p), 'p'), s.join(','));
      }
    } finally {
      removeTree(work);
    }
  });
});

describe('a tree the scan could not read whole', () => {
  it('an unreadable directory: no rmdir of it or above it, a note (planned as nobody)', (t) => {
    const work = tempDir();
    try {
      writeTree(work, {
        'pkg/__init__.py': '',
        'pkg/tests/ok/a.py': 'a = 1\n',
        'pkg/tests/locked/h.py': 'h\n',
      });
      spawnSync('chmod', ['-R', 'a+rX', work]);
      fs.chmodSync(path.join(work, 'pkg/tests/locked'), 0o000);
      const r = runCli(['plan', 'strip-tests', work], NOBODY);
      if (!have(t, r.status !== null, 'running a command as another user (root)')) return;
      const p = planJson(r);
      assert.deepEqual(rmdirs(p), ['pkg/tests/ok']);
      assert.ok(
        p.notes.some((n) => /^not read \(permission denied\).*: pkg\/tests\/locked$/.test(n)),
        p.notes.join('\n'),
      );
    } finally {
      removeTree(work);
    }
  });

  it('a tree deeper than PATH_MAX: no rmdir above the part not read, a note', () => {
    const work = tempDir();
    try {
      writeTree(work, { 'pkg/__init__.py': '', 'pkg/tests/__init__.py': '' });
      // Why relative: no single path to the deepest directory fits in PATH_MAX, so mkdir goes step by step.
      const script = `process.chdir('pkg/tests'); for (let i = 0; i < 40; i++) { const d = 'd'.repeat(120); require('fs').mkdirSync(d); process.chdir(d); } require('fs').writeFileSync('deep.py', 'x')`;
      const r = spawnSync(process.execPath, ['-e', script], { cwd: work });
      assert.equal(r.status, 0, String(r.stderr));
      const p = planJson(runCli(['plan', 'strip-tests', work]));
      assert.deepEqual(rmdirs(p), []);
      assert.ok(
        p.notes.some((n) => /^not read \(longer than PATH_MAX \(4096 bytes\)\).*: pkg\/tests\/d/.test(n)),
      );
    } finally {
      spawnSync('rm', ['-rf', work]); // Why: GNU rm walks with openat, whatever the depth
    }
  });

  it('names that are not UTF-8 are noted, and their directories stay', () => {
    const work = tempDir();
    try {
      writeTree(work, { 'pkg/__init__.py': '', 'pkg/tests/__init__.py': '', 'pkg/tests/t/a.py': 'a\n' });
      const tests = Buffer.from(path.join(work, 'pkg/tests/'));
      fs.writeFileSync(Buffer.concat([tests, Buffer.from('t/caf\xe9.py', 'latin1')]), 'x = 1\n');
      // An empty directory that is not UTF-8 is all that keeps pkg/tests/u from being emptied.
      fs.mkdirSync(Buffer.concat([tests, Buffer.from([0x75, 0x2f, 0x62, 0xff])]), { recursive: true });
      const p = planJson(runCli(['plan', 'strip-tests', work]));
      assert.deepEqual(rmdirs(p), []);
      const note = p.notes.find((n) => n.startsWith('left as they are, their names are not UTF-8'));
      assert.match(note ?? p.notes.join('\n'), /: pkg\/tests\/t\/caf\\xe9\.py, pkg\/tests\/u\/b\\xff$/);
    } finally {
      removeTree(work);
    }
  });
});

describe('errno paths', () => {
  it('a file plan cannot read ends in one error line naming it and the errno, exit 2', (t) => {
    const work = tempDir();
    try {
      writeTree(work, { 'pkg/__init__.py': '', 'pkg/tests/__init__.py': '', 'pkg/tests/test_a.py': 'x\n' });
      spawnSync('chmod', ['-R', 'a+rX', work]);
      fs.chmodSync(path.join(work, 'pkg/tests/test_a.py'), 0o000);
      const r = runCli(['plan', 'strip-tests', work], NOBODY);
      if (!have(t, r.status !== null, 'running a command as another user (root)')) return;
      assertRefused(
        r,
        /^pyfloppy: error: \/.*\/pkg\/tests\/test_a\.py: permission denied \(EACCES in open\)$/,
      );
    } finally {
      removeTree(work);
    }
  });
});
