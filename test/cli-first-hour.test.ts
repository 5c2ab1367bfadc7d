/**
 * What a new user meets in the first hour: every bad input is one `pyfloppy: error:` line (and at most one
 * `pyfloppy: hint:`), exit 2, never a stack trace or commander's own two-line message; options that contradict
 * each other are refused; a plan with nothing to do says so. Small trees only: each case is one CLI run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CliResult, runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { compileAllLevels, cpython, interpreter } from './helpers/python.js';
import { fastTempDir, removeTree, tempDir, writeTree } from './helpers/tree.js';

/** Exit 2, nothing on stdout, one error line matching `why`, at most one hint line, nothing else. */
function usage(r: CliResult, why: RegExp, label: string): void {
  assert.equal(r.status, 2, `${label}: ${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, '', label);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.match(lines[0] ?? '', /^pyfloppy: error: /, `${label}: ${r.stderr}`);
  assert.match(lines[0]!, why, label);
  assert.ok(lines.length <= 2, `${label}: more than an error and a hint: ${r.stderr}`);
  if (lines.length === 2) assert.match(lines[1]!, /^pyfloppy: hint: /, label);
}

describe('errors are one line, exit 2', () => {
  let root = '';
  before(() => {
    root = fastTempDir();
    writeTree(root, { 'tree/mod.py': 'X = 1\n', 'empty/.keep': '' });
    fs.rmSync(path.join(root, 'empty/.keep'));
  });
  after(() => removeTree(root));

  it("commander's parsing errors carry the pyfloppy: prefix, on one line, with a hint naming --help", () => {
    const tree = path.join(root, 'tree');
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['analyz', tree], /unknown command 'analyz'/],
      [['analyze', tree, '--frobnicate'], /unknown option '--frobnicate'/],
      [['analyze', tree, '--format', 'bogus'], /argument 'bogus' is invalid/],
      [['analyze', tree, '--top', '0'], /argument '0' is invalid/],
      [['compile', tree, '-o', '3'], /argument '3' is invalid\. an optimization level is 0, 1 or 2/],
      [['compile', tree, '-j', '-1'], /argument '-1' is invalid/],
      [['apply', 'plan.json', '--levels', '5'], /argument '5' is invalid/],
      [['verify', tree], /required option '--python <exe>' not specified/],
      [['split', '--check', 'x.json'], /missing required argument 'path'/],
    ];
    for (const [args, why] of cases) {
      const r = runCli(args);
      usage(r, why, args.join(' '));
      assert.match(r.stderr, /^pyfloppy: hint: .*--help/m, args.join(' '));
    }
    assert.match(runCli(['analyz', tree]).stderr, /^pyfloppy: hint: did you mean analyze\?/m);
  });

  it('compile: a missing path and a bad -x are one clear line', () => {
    usage(
      runCli(['compile', path.join(root, 'missing')]),
      /no such file or directory: .*missing$/,
      'missing',
    );
    usage(runCli(['compile', path.join(root, 'tree'), '-x', '(']), /-x: .*regular expression/, '-x (');
  });

  it('--output naming a directory is refused by that name, never a temporary one', () => {
    const dir = path.join(root, 'tree');
    for (const args of [
      ['analyze', dir, '--output', root],
      ['plan', 'dedup', dir, '-o', root],
    ]) {
      const r = runCli(args);
      usage(r, new RegExp(`cannot write ${root}: it is a directory$`), args[0]!);
      assert.doesNotMatch(r.stderr, /\.tmp|pyfloppy-\d+/);
    }
  });

  it('a malformed plan is one line, whatever the file holds', () => {
    const file = path.join(root, 'bad.json');
    fs.writeFileSync(file, 'not\n{"json":\n1}\n');
    usage(runCli(['apply', file]), /bad\.json: not JSON/, 'apply');
  });

  it('conflicting options are refused', () => {
    const tree = path.join(root, 'tree');
    const cases: Array<[string[], RegExp]> = [
      [['analyze', tree, '--json', '--format', 'markdown'], /--json and --format markdown/],
      [['apply', 'plan.json', '--rollback', '--commit'], /--rollback and --commit cannot be used together/],
      [['apply', 'plan.json', '--rollback', '--dry-run'], /--rollback cannot be used with --dry-run/],
      [['apply', 'plan.json', '--levels', '0,1'], /--levels needs --verify/],
      [['apply', 'plan.json', '--exclude', 'test'], /--exclude needs --verify/],
      [['apply', 'plan.json', '--dry-run', '--no-commit'], /--dry-run cannot be used with --no-commit/],
    ];
    for (const [args, why] of cases) usage(runCli(args), why, args.join(' '));
    // Asking for json twice is not a conflict.
    assert.equal(runCli(['analyze', tree, '--json', '--format', 'json', '--no-strategies']).status, 0);
  });
});

describe('plan says what it cannot do', () => {
  let root = '';
  before(() => {
    root = fastTempDir();
    writeTree(root, { 'tree/mod.py': 'X = 1\n' });
    fs.mkdirSync(path.join(root, 'empty'));
  });
  after(() => removeTree(root));

  it('an empty or malformed strategy list, and an estimate-only strategy, are usage errors', () => {
    const tree = path.join(root, 'tree');
    usage(runCli(['plan', '', tree]), /no strategy given/, "''");
    usage(runCli(['plan', ',,', tree]), /no strategy given/, ',,');
    usage(runCli(['plan', 'drop-opt2,,dedup', tree]), /an empty strategy id in 'drop-opt2,,dedup'/, 'a,,b');
    usage(
      runCli(['plan', 'compress-pyc', tree]),
      /compress-pyc cannot be planned \(estimate only\)/,
      'compress-pyc',
    );
  });

  it('an empty plan says so (exit 1), on stderr beside the JSON and in the summary with -o', () => {
    const empty = path.join(root, 'empty');
    const json = runCli(['plan', 'dedup', empty]);
    assert.equal(json.status, 1);
    assert.equal((JSON.parse(json.stdout) as { operations: unknown[] }).operations.length, 0);
    assert.match(
      json.stderr,
      /^pyfloppy: nothing to do: the plan is empty \(dedup would change nothing in /m,
    );
    const file = path.join(root, 'plan.json');
    const summary = runCli(['plan', 'dedup', empty, '-o', file]);
    assert.equal(summary.status, 1);
    assert.match(summary.stdout, /: nothing to do: the plan is empty/);
    assert.match(summary.stdout, /written to .*plan\.json \(empty: nothing to apply\)/);
    assert.doesNotMatch(summary.stdout, /0 operations \(\)|pyfloppy apply/);
  });

  it('plan --help and apply --help document the exit status, with examples', () => {
    for (const command of ['plan', 'apply']) {
      const r = runCli([command, '--help']);
      assert.equal(r.status, 0);
      assert.match(r.stdout, /^Examples:$/m, command);
      assert.match(r.stdout, /^Exit status: 0 [^]*; 1 |^Exit status: 0 [^]*, 1 /m, command);
    }
  });

  it('sourceless,dedup notes that dedup has nothing left to do', (t) => {
    const py = interpreter('3.13');
    if (!have(t, py, cpython('3.13'))) return;
    const tree = path.join(root, 'compiled');
    writeTree(tree, { 'mod.py': '"""Doc."""\nX = 1\n' });
    compileAllLevels(py, tree);
    const r = runCli(['plan', 'sourceless,dedup', tree, '-o', path.join(root, 'sd.json')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^note: dedup has nothing left to do after sourceless/m);
    assert.match(r.stdout, /: \d+ operations \(/);
  });
});

describe('an unreadable root', () => {
  it('is one error, exit 2, for analyze, check, dedup, compile, split and plan (not an empty report)', (t) => {
    const root = tempDir();
    try {
      writeTree(root, { 'locked/mod.py': 'X = 1\n' });
      const locked = path.join(root, 'locked');
      fs.chmodSync(locked, 0o700);
      const probe = runCli(['--version'], { uid: 65534, gid: 65534 });
      if (!have(t, probe.status === 0, 'running a command as another user (root)')) return;
      for (const args of [
        ['analyze', locked, '--no-strategies'],
        ['check', locked],
        ['dedup', locked],
        ['compile', locked],
        ['split', locked, '--policy', 'tests'],
        ['plan', 'no-bytecode', locked],
      ]) {
        const r = runCli(args, { uid: 65534, gid: 65534 });
        usage(r, new RegExp(`^pyfloppy: error: cannot read ${locked}: permission denied$`), args[0]!);
      }
    } finally {
      removeTree(root);
    }
  });
});

describe('check on CPython 2.7', () => {
  const py2 = interpreter('2.7');
  const py3 = interpreter('3.13');
  it('refuses the interpreter and a 2.7 tree in one line and a hint; a 3.x sourceless tree is checked', (t) => {
    if (!have(t, py2, cpython('2.7'))) return;
    if (!have(t, py3, cpython('3.13'))) return;
    const root = fastTempDir();
    try {
      const hint =
        /^pyfloppy: hint: check reads the caches of CPython 3\.2 and later; `python2\.7 -m compileall/m;
      const given = runCli(['check', '--python', py2.exe]);
      usage(given, /is Python 2\.7\.\d+: check reads Python 3 caches/, 'check --python 2.7');
      assert.match(given.stderr, hint);
      // A tree as Python 2.7 compiles it: mod.pyc beside mod.py, mod.pyo under -O.
      const tree = path.join(root, 'py2');
      writeTree(tree, { 'mod.py': 'X = 1\n', 'pkg/__init__.py': '', 'pkg/core.py': 'Y = 2\n' });
      for (const flags of [[], ['-O']])
        assert.equal(spawnSync(py2.exe, [...flags, '-m', 'compileall', '-q', tree]).status, 0);
      const inTree = runCli(['check', tree]);
      usage(
        inTree,
        /a Python 2 tree \(6 of 6 legacy \.pyc\/\.pyo files read have a Python 2 magic number/,
        '2.7 tree',
      );
      assert.match(inTree.stderr, hint);
      // Python 3's sourceless layout also has legacy .pyc files, of a 3.x magic: checked, not refused.
      const sourceless = path.join(root, 'py3');
      writeTree(sourceless, { 'mod.py': 'X = 1\n' });
      assert.equal(spawnSync(py3.exe, ['-m', 'compileall', '-q', '-b', sourceless]).status, 0);
      fs.rmSync(path.join(sourceless, 'mod.py'));
      const ok = runCli(['check', sourceless]);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    } finally {
      removeTree(root);
    }
  });
});

describe('check --python of another version than the tree', () => {
  const py12 = interpreter('3.12');
  const py13 = interpreter('3.13');
  it('is refused (exit 2, a hint) unless the tree has caches of its tag too, then it is used', (t) => {
    if (!have(t, py12, cpython('3.12'))) return;
    if (!have(t, py13, cpython('3.13'))) return;
    const root = fastTempDir();
    try {
      const tree = path.join(root, 'tree');
      writeTree(tree, { 'mod.py': 'X = 1\n', 'pkg/__init__.py': '', 'pkg/core.py': 'Y = 2\n' });
      assert.equal(spawnSync(py13.exe, ['-m', 'compileall', '-q', tree]).status, 0);
      const r = runCli(['check', tree, '--python', py12.exe]);
      usage(
        r,
        /has no cache of cpython-312: its caches are cpython-313 \(3 of 3 module caches\)/,
        '3.12 on 3.13',
      );
      assert.match(r.stderr, /^pyfloppy: hint: .*--python .*3\.13/m);
      // The 3.12 caches beside them: the tree is for both, and the one given is the reference.
      assert.equal(spawnSync(py12.exe, ['-m', 'compileall', '-q', path.join(tree, 'mod.py')]).status, 0);
      const both = runCli(['check', tree, '--python', py12.exe, '--json']);
      assert.equal(both.status, 1, both.stderr);
      const report = JSON.parse(both.stdout) as { interpreter: { source: string; cacheTag: string } };
      assert.deepEqual([report.interpreter.source, report.interpreter.cacheTag], ['python', 'cpython-312']);
    } finally {
      removeTree(root);
    }
  });
});

describe('a read-only mount', () => {
  it('dedup: one error, exit 2, not a line per pair', (t) => {
    const root = fastTempDir();
    const mnt = path.join(root, 'ro');
    let mounted = false;
    try {
      fs.mkdirSync(mnt);
      mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]).status === 0;
      if (!have(t, mounted, 'mounting a tmpfs (root, CAP_SYS_ADMIN)')) return;
      const pyc = Buffer.from('same bytes at every level');
      for (const m of ['a', 'b'])
        writeTree(mnt, {
          [`${m}.py`]: 'X = 1\n',
          [`__pycache__/${m}.cpython-313.pyc`]: pyc,
          [`__pycache__/${m}.cpython-313.opt-1.pyc`]: pyc,
        });
      assert.equal(spawnSync('mount', ['-o', 'remount,ro', mnt]).status, 0);
      usage(runCli(['dedup', mnt]), /read-only file system: none of 2 pairs could be linked \(EROFS\)/, 'ro');
    } finally {
      if (mounted) spawnSync('umount', [mnt]);
      removeTree(root);
    }
  });

  it('apply: the error and the hint say the file system is read-only, not whose tree it is', (t) => {
    const root = fastTempDir();
    const mnt = path.join(root, 'ro');
    let mounted = false;
    try {
      fs.mkdirSync(mnt);
      mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]).status === 0;
      if (!have(t, mounted, 'mounting a tmpfs (root, CAP_SYS_ADMIN)')) return;
      writeTree(mnt, { 'a.py': 'X = 1\n', '__pycache__/a.cpython-313.opt-2.pyc': 'level 2' });
      const plan = path.join(root, 'plan.json');
      assert.equal(runCli(['plan', 'drop-opt2', mnt, '-o', plan]).status, 0);
      assert.equal(spawnSync('mount', ['-o', 'remount,ro', mnt]).status, 0);
      const r = runCli(['apply', plan]);
      usage(r, new RegExp(`^pyfloppy: error: ${mnt}: read-only file system \\(EROFS\\)$`), 'apply ro');
      assert.match(r.stderr, /^pyfloppy: hint: the file system is mounted read-only: remount it read-write/m);
      assert.doesNotMatch(r.stderr, /owner/);
    } finally {
      if (mounted) spawnSync('umount', [mnt]);
      removeTree(root);
    }
  });
});
