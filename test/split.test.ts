import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  checkSplit,
  rpmFileName,
  type SplitReport,
  type SplitResult,
  split,
  type TreeListing,
} from '../src/split/split.js';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { compileAllLevels, interpreters, cpython } from './helpers/python.js';
import { removeTree, tempDir, writeTree } from './helpers/tree.js';

const py = interpreters()
  .filter((i) => i.minor >= 9)
  .pop();
const PREFIX = '/opt/fixture';

/** A small package tree with tests, data, a symlink, an empty directory and names rpm must escape. */
function fixture(root: string): void {
  writeTree(root, {
    'pkg/__init__.py': '"""The package."""\n',
    'pkg/core.py': 'def f():\n    """Doc."""\n    assert True\n    return 1\n',
    'pkg/sub/__init__.py': '',
    'pkg/sub/util.py': 'X = 1\n',
    'pkg/data/table.csv': 'a,b\n1,2\n',
    'pkg/tests/__init__.py': '',
    'pkg/tests/test_core.py': 'def test_f():\n    pass\n',
    'pkg/tests/data/sample.txt': 'sample\n',
    'top.py': 'Y = 2\n',
    'my mod.py': 'Z = 3\n',
    'p%name.py': 'W = 4\n',
    'README.txt': 'read me\n',
  });
  fs.symlinkSync('top.py', path.join(root, 'alias.py'));
  fs.mkdirSync(path.join(root, 'empty'));
}

interface Entry {
  rel: string;
  dir: boolean;
}

/** The tree as the test sees it, independently of pyfloppy: every entry below root, root first. */
function walk(root: string): Entry[] {
  const out: Entry[] = [{ rel: '', dir: true }];
  const rec = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const dir = fs.lstatSync(path.join(root, r)).isDirectory();
      out.push({ rel: r, dir });
      if (dir) rec(r);
    }
  };
  rec('');
  return out;
}

const at = (rel: string): string => (rel === '' ? PREFIX : `${PREFIX}/${rel}`);
const sorted = (xs: string[]): string[] => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** The cache level of a path ('' for none) by its name alone. */
function level(rel: string): '' | '0' | '1' | '2' {
  const m = /(?:^|\/)__pycache__\/[^/]+\.cpython-\d+(?:\.opt-([12]))?\.pyc$/.exec(rel);
  if (m === null) return '';
  return m[1] === undefined ? '0' : (m[1] as '1' | '2');
}

function sectionOf(r: SplitReport, name: string) {
  const s = r.sections.find((x) => x.name === name);
  assert.ok(s, `no section ${name} in ${r.sections.map((x) => x.name).join(', ')}`);
  return s;
}

/** Exactly the files, dirs and ghosts expected of a section. */
function assertSection(
  r: SplitReport,
  name: string,
  want: { files: string[]; dirs: string[]; ghosts?: string[] },
): void {
  const s = sectionOf(r, name);
  assert.deepEqual(s.files, sorted(want.files.map(at)), `${name} files`);
  assert.deepEqual(s.dirs, sorted(want.dirs.map(at)), `${name} dirs`);
  assert.deepEqual(s.ghosts, sorted((want.ghosts ?? []).map(at)), `${name} ghosts`);
  assert.equal(s.counts.files, s.files.length);
}

/** The three rules, checked here without pyfloppy's checker: disjoint, cover, subset. */
function assertSound(r: SplitReport, entries: Entry[]): void {
  assert.equal(r.check.ok, true, JSON.stringify(r.check.violations.slice(0, 5)));
  const owner = new Map<string, string>();
  for (const s of r.sections) {
    for (const p of [...s.files, ...s.dirs]) {
      assert.equal(owner.get(p), undefined, `${p} owned by ${owner.get(p)} and ${s.name}`);
      owner.set(p, s.name);
    }
  }
  assert.deepEqual(sorted([...owner.keys()]), sorted(entries.map((e) => at(e.rel))), 'cover');
  const main = r.sections[0]!;
  const types = new Map(entries.map((e) => [at(e.rel), e.dir]));
  for (const p of main.files) assert.equal(types.get(p), false, `main file ${p}`);
  for (const p of main.dirs) assert.equal(types.get(p), true, `main dir ${p}`);
  for (const g of main.ghosts) {
    assert.equal(types.get(g), false, `ghost ${g} is a file of the tree`);
    assert.ok(owner.get(g) !== undefined && owner.get(g) !== main.name, `ghost ${g} owned elsewhere`);
  }
}

describe('split', () => {
  let root = '';
  let entries: Entry[] = [];
  before(() => {
    if (py === undefined) return;
    root = tempDir();
    fixture(root);
    compileAllLevels(py, root);
    entries = walk(root);
  });
  after(() => removeTree(root));

  const files = (pred: (e: Entry) => boolean): string[] =>
    entries.filter((e) => !e.dir && pred(e)).map((e) => e.rel);
  const dirs = (pred: (e: Entry) => boolean): string[] =>
    entries.filter((e) => e.dir && pred(e)).map((e) => e.rel);
  const isTest = (e: Entry): boolean => e.rel === 'pkg/tests' || e.rel.startsWith('pkg/tests/');

  it('bytecode: main owns all but caches, %dir each __pycache__, %ghost every cache; one section per level', async (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const r = await split({ path: root, policy: 'bytecode', prefix: PREFIX, name: 'fixture' });
    assert.deepEqual(
      r.sections.map((s) => s.name),
      ['fixture', 'fixture-bytecode-cache', 'fixture-bytecode-cache-opt-1', 'fixture-bytecode-cache-opt-2'],
    );
    const caches = files((e) => level(e.rel) !== '');
    assert.equal(caches.length, 3 * 10, 'ten modules (the symlink too) compiled at three levels');
    assertSection(r, 'fixture', {
      files: files((e) => level(e.rel) === ''),
      dirs: dirs(() => true),
      ghosts: caches,
    });
    assert.ok(sectionOf(r, 'fixture').dirs.includes(at('pkg/tests/__pycache__')));
    assertSection(r, 'fixture-bytecode-cache', { files: files((e) => level(e.rel) === '0'), dirs: [] });
    assertSection(r, 'fixture-bytecode-cache-opt-1', { files: files((e) => level(e.rel) === '1'), dirs: [] });
    assertSection(r, 'fixture-bytecode-cache-opt-2', { files: files((e) => level(e.rel) === '2'), dirs: [] });
    assertSound(r, entries);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.problems, []);
    // Bytes: every file once, in some section.
    const total = r.sections.reduce((a, s) => a + s.apparentBytes, 0);
    const du = entries.reduce((a, e) => a + fs.lstatSync(path.join(root, e.rel)).size, 0);
    assert.equal(total, du);
  });

  it('optimized: main owns sources, data and level 0, %ghost levels 1 and 2', async (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const r = await split({ path: root, policy: 'optimized', prefix: PREFIX, name: 'fixture' });
    assert.deepEqual(
      r.sections.map((s) => s.name),
      ['fixture', 'fixture-bytecode-cache-opt-1', 'fixture-bytecode-cache-opt-2'],
    );
    assertSection(r, 'fixture', {
      files: files((e) => level(e.rel) === '' || level(e.rel) === '0'),
      dirs: dirs(() => true),
      ghosts: files((e) => level(e.rel) === '1' || level(e.rel) === '2'),
    });
    assertSection(r, 'fixture-bytecode-cache-opt-1', { files: files((e) => level(e.rel) === '1'), dirs: [] });
    assertSection(r, 'fixture-bytecode-cache-opt-2', { files: files((e) => level(e.rel) === '2'), dirs: [] });
    assertSound(r, entries);
  });

  it('tests: the test package, its data and its caches (files and directories) go to NAME-tests', async (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const r = await split({ path: root, policy: 'tests', prefix: PREFIX, name: 'fixture' });
    assert.deepEqual(
      r.sections.map((s) => s.name),
      ['fixture', 'fixture-tests'],
    );
    assertSection(r, 'fixture', { files: files((e) => !isTest(e)), dirs: dirs((e) => !isTest(e)) });
    assertSection(r, 'fixture-tests', { files: files(isTest), dirs: dirs(isTest) });
    assert.deepEqual(sectionOf(r, 'fixture-tests').dirs, [
      at('pkg/tests'),
      at('pkg/tests/__pycache__'),
      at('pkg/tests/data'),
    ]);
    assertSound(r, entries);
  });

  it('sources: nothing to split in a tree with sources is a warning, not an error', async (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const r = await split({ path: root, policy: 'sources', prefix: PREFIX, name: 'fixture' });
    assert.deepEqual(
      r.sections.map((s) => s.name),
      ['fixture'],
    );
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /nothing to split: not a sourceless layout/);
    assertSound(r, entries);
  });

  it('sources: __pysources__ directories and sources shadowed by a legacy .pyc go to NAME-sources', async (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const d = tempDir();
    try {
      writeTree(d, {
        'mod.py': 'A = 1\n',
        'mod.pyc': 'legacy bytecode',
        'lonely.pyc': 'sourceless only',
        'pkg/__init__.py': '',
        'pkg/__init__.pyc': 'legacy bytecode',
        'pkg/other.py': 'B = 2\n',
        'pkg/__pysources__/other.py.gz': 'gzip',
        'pkg/__pysources__/deep/x.py.gz': 'gzip',
        'pkg/data.txt': 'data',
      });
      const r = await split({ path: d, policy: 'sources', prefix: PREFIX, name: 'lib' });
      assertSection(r, 'lib', {
        files: ['lonely.pyc', 'mod.pyc', 'pkg/__init__.pyc', 'pkg/other.py', 'pkg/data.txt'],
        dirs: ['', 'pkg'],
      });
      assertSection(r, 'lib-sources', {
        files: [
          'mod.py',
          'pkg/__init__.py',
          'pkg/__pysources__/other.py.gz',
          'pkg/__pysources__/deep/x.py.gz',
        ],
        dirs: ['pkg/__pysources__', 'pkg/__pysources__/deep'],
      });
      assertSound(r, walk(d));
      assert.deepEqual(r.warnings, []);
    } finally {
      removeTree(d);
    }
  });

  it('the prefix defaults to the tree itself and the name to its basename', async (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const r = await split({ path: root, policy: 'bytecode' });
    assert.equal(r.prefix, root);
    assert.equal(r.name, path.basename(root));
    assert.equal(r.sections[0]!.dirs[0], root);
    assert.equal(r.check.ok, true);
  });

  it('hardlinked levels in several sections are a warning (rpm installs copies)', async (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const d = tempDir();
    try {
      writeTree(d, { 'm.py': 'X = 1\n' });
      compileAllLevels(py, d);
      const pc = path.join(d, '__pycache__');
      const tag = `cpython-3${py.minor}`;
      fs.rmSync(path.join(pc, `m.${tag}.opt-1.pyc`));
      fs.linkSync(path.join(pc, `m.${tag}.pyc`), path.join(pc, `m.${tag}.opt-1.pyc`));
      const r = await split({ path: d, policy: 'bytecode', prefix: PREFIX });
      assert.equal(r.check.ok, true);
      assert.match(r.warnings.join('\n'), /1 hardlinked file\(s\) have names in several sections/);
    } finally {
      removeTree(d);
    }
  });
});

describe('checkSplit (hand-made splits)', () => {
  const tree: TreeListing = {
    paths: new Map<string, 'dir' | 'file'>([
      ['/p', 'dir'],
      ['/p/a.py', 'file'],
      ['/p/sub', 'dir'],
      ['/p/sub/b.py', 'file'],
      ['/p/__pycache__', 'dir'],
      ['/p/__pycache__/a.cpython-313.pyc', 'file'],
    ]),
  };
  const good = (): SplitResult => ({
    sections: [
      {
        name: 'main',
        files: ['/p/a.py', '/p/sub/b.py'],
        dirs: ['/p', '/p/sub', '/p/__pycache__'],
        ghosts: ['/p/__pycache__/a.cpython-313.pyc'],
      },
      { name: 'main-bytecode-cache', files: ['/p/__pycache__/a.cpython-313.pyc'], dirs: [], ghosts: [] },
    ],
  });
  const rules = (s: SplitResult) =>
    checkSplit(s, tree).violations.map((v) => `${v.rule} ${v.path} [${v.sections.join(',')}]`);

  it('a sound split passes', () => {
    const c = checkSplit(good(), tree);
    assert.equal(c.ok, true);
    assert.deepEqual(c.counts, { disjoint: 0, cover: 0, subset: 0 });
  });

  it('(a) disjoint: a path owned by two sections, or listed twice, or owned and ghosted', () => {
    const s = good();
    s.sections[1]!.files.push('/p/a.py');
    assert.deepEqual(rules(s), ['disjoint /p/a.py [main,main-bytecode-cache]']);
    const twice = good();
    twice.sections[0]!.dirs.push('/p/sub/');
    assert.deepEqual(rules(twice), ['disjoint /p/sub [main]']);
    const both = good();
    both.sections[0]!.files.push('/p/__pycache__/a.cpython-313.pyc');
    const r = rules(both);
    assert.ok(
      r.includes('disjoint /p/__pycache__/a.cpython-313.pyc [main,main-bytecode-cache]'),
      r.join('\n'),
    );
    assert.ok(r.includes('disjoint /p/__pycache__/a.cpython-313.pyc [main]'), r.join('\n'));
    assert.equal(checkSplit(both, tree).counts.disjoint, 2);
  });

  it('(b) cover: a path of the tree owned by nobody, a path not in the tree, a directory listed as a file', () => {
    const s = good();
    s.sections[0]!.files = ['/p/a.py'];
    assert.deepEqual(rules(s), ['cover /p/sub/b.py []']);
    const extra = good();
    extra.sections[1]!.files.push('/p/__pycache__/gone.cpython-313.pyc');
    assert.deepEqual(rules(extra), ['cover /p/__pycache__/gone.cpython-313.pyc [main-bytecode-cache]']);
    const asFile = good();
    asFile.sections[0]!.dirs = ['/p', '/p/__pycache__'];
    asFile.sections[0]!.files = ['/p/a.py'];
    asFile.sections[1]!.files.push('/p/sub', '/p/sub/b.py');
    const c = checkSplit(asFile, tree);
    assert.deepEqual(
      c.violations.map((v) => v.rule),
      ['cover'],
    );
    assert.match(c.violations[0]!.message, /listed as a file by main-bytecode-cache but is a directory/);
  });

  it('(c) subset: main ghosts what no other section owns, owns what is not in the tree, or lives in a foreign directory', () => {
    const orphanGhost = good();
    orphanGhost.sections[0]!.ghosts.push('/p/__pycache__/a.cpython-313.opt-1.pyc');
    assert.deepEqual(rules(orphanGhost), ['subset /p/__pycache__/a.cpython-313.opt-1.pyc [main]']);
    assert.match(checkSplit(orphanGhost, tree).violations[0]!.message, /not in the tree/);

    const unowned = good();
    unowned.sections.pop();
    const c = checkSplit(unowned, tree);
    assert.deepEqual(
      c.violations.map((v) => `${v.rule} ${v.path}`),
      ['cover /p/__pycache__/a.cpython-313.pyc', 'subset /p/__pycache__/a.cpython-313.pyc'],
    );
    assert.match(c.violations[1]!.message, /owned by no other section/);

    const notInTree = good();
    notInTree.sections[0]!.files.push('/p/new.py');
    assert.deepEqual(rules(notInTree), ['subset /p/new.py [main]']);

    const foreignDir = good();
    foreignDir.sections[0]!.dirs = ['/p', '/p/__pycache__'];
    foreignDir.sections[1]!.dirs.push('/p/sub');
    assert.deepEqual(rules(foreignDir), ['subset /p/sub/b.py [main]']);

    const fileAsDir = good();
    fileAsDir.sections[0]!.files = ['/p/sub/b.py'];
    fileAsDir.sections[0]!.dirs.push('/p/a.py');
    assert.deepEqual(rules(fileAsDir), ['subset /p/a.py [main]']);
  });
});

describe('rpmFileName (the escaping rpm 4.18 reads back)', () => {
  const none: string[] = [];
  it('quotes white space, multiplies %, brackets glob characters', () => {
    assert.deepEqual(rpmFileName('/a/b.py', none), { ok: true, text: '/a/b.py' });
    assert.deepEqual(rpmFileName('/a/my mod.py', none), { ok: true, text: '"/a/my mod.py"' });
    assert.deepEqual(rpmFileName('/a/p%name.py', none), { ok: true, text: '/a/p%%%%%%%%name.py' });
    assert.deepEqual(rpmFileName('/a/g[1]*?.txt', none), { ok: true, text: '/a/g[[]1[]][*][?].txt' });
    assert.deepEqual(rpmFileName('/a/sp [x]*', none), { ok: true, text: '"/a/sp [x]*"' });
    assert.deepEqual(rpmFileName('/a/d"q\\x', none), { ok: true, text: '/a/d"q\\x' });
    assert.deepEqual(rpmFileName('/a/br{a,b}', ['/a/br{a,b}']), { ok: true, text: '/a/br?a,b?' });
  });
  it('refuses what rpm cannot list', () => {
    assert.equal(rpmFileName('/a/tab\there', none).ok, false);
    assert.equal(rpmFileName('/a/new\nline', none).ok, false);
    assert.equal(rpmFileName('/a/q "x"', none).ok, false);
    const r = rpmFileName('/a/br{a}', ['/a/br{a}', '/a/br{a!']);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /also matches \/a\/br\{a!/);
  });
});

describe('pyfloppy split (the built CLI)', () => {
  let root = '';
  before(() => {
    if (py === undefined) return;
    root = tempDir();
    fixture(root);
    compileAllLevels(py, root);
  });
  after(() => removeTree(root));

  it('--help names the policies, the check and the exit status', (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const r = runCli(['split', '--help']);
    assert.equal(r.status, 0);
    for (const s of [
      'bytecode',
      'optimized',
      'tests',
      'sources',
      '%ghost',
      '--output-dir',
      '--check',
      'Exit status',
    ]) {
      assert.ok(r.stdout.includes(s), `split --help lacks ${s}`);
    }
  });

  it('usage and environment errors exit 2', (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const missingPath = runCli(['split', '--policy', 'bytecode']);
    assert.equal(missingPath.status, 2);
    assert.match(missingPath.stderr, /missing required argument 'path'/);
    const badPolicy = runCli(['split', root, '--policy', 'everything']);
    assert.equal(badPolicy.status, 2);
    assert.match(badPolicy.stderr, /Allowed choices are bytecode, optimized, tests, sources/);
    const noPolicy = runCli(['split', root]);
    assert.equal(noPolicy.status, 2);
    assert.match(noPolicy.stderr, /^pyfloppy: error: --policy is required$/m);
    const noTree = runCli(['split', path.join(root, 'nope'), '--policy', 'bytecode']);
    assert.equal(noTree.status, 2);
    assert.match(noTree.stderr, /^pyfloppy: error: /m);
    const noDir = runCli(['split', root, '--policy', 'bytecode', '--output-dir', path.join(root, 'nope')]);
    assert.equal(noDir.status, 2);
    assert.match(noDir.stderr, /--output-dir .*nope: no such directory/);
    const fileDir = runCli([
      'split',
      root,
      '--policy',
      'bytecode',
      '--output-dir',
      path.join(root, 'top.py'),
    ]);
    assert.equal(fileDir.status, 2);
    assert.match(fileDir.stderr, /not a directory/);
    const relPrefix = runCli(['split', root, '--policy', 'bytecode', '--prefix', 'usr/lib']);
    assert.equal(relPrefix.status, 2);
    assert.match(relPrefix.stderr, /absolute path/);
    const badName = runCli(['split', root, '--policy', 'bytecode', '--name', 'a b']);
    assert.equal(badName.status, 2);
  });

  it('--format rpm on stdout: each section after its %files -n line, %dir and %ghost lines, escaped names', (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const r = runCli(['split', root, '--policy', 'bytecode', '--prefix', PREFIX, '--name', 'fx']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const tag = `cpython-3${py.minor}`;
    const blocks = r.stdout.split('\n\n');
    assert.deepEqual(
      blocks.map((b) => b.split('\n')[0]),
      [
        '%files -n fx',
        '%files -n fx-bytecode-cache',
        '%files -n fx-bytecode-cache-opt-1',
        '%files -n fx-bytecode-cache-opt-2',
      ],
    );
    const main = blocks[0]!.split('\n');
    for (const line of [
      `%dir ${PREFIX}`,
      `%dir ${PREFIX}/pkg/__pycache__`,
      `%dir ${PREFIX}/empty`,
      `${PREFIX}/pkg/core.py`,
      `${PREFIX}/alias.py`,
      `"${PREFIX}/my mod.py"`,
      `${PREFIX}/p%%%%%%%%name.py`,
      `%ghost ${PREFIX}/pkg/__pycache__/core.${tag}.pyc`,
      `%ghost "${PREFIX}/__pycache__/my mod.${tag}.opt-2.pyc"`,
    ]) {
      assert.ok(main.includes(line), `main lacks ${line}`);
    }
    assert.ok(blocks[1]!.split('\n').includes(`${PREFIX}/pkg/__pycache__/core.${tag}.pyc`));
    assert.ok(!blocks[1]!.includes('opt-'));
  });

  it('--format list and --format json', (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const l = runCli([
      'split',
      root,
      '--policy',
      'tests',
      '--prefix',
      PREFIX,
      '--name',
      'fx',
      '--format',
      'list',
    ]);
    assert.equal(l.status, 0, l.stderr);
    const [main, tests] = l.stdout.split('\n\n');
    assert.equal(main!.split('\n')[0], '# fx');
    assert.ok(main!.split('\n').includes(`${PREFIX}/my mod.py`), 'plain, unescaped paths');
    assert.ok(main!.split('\n').includes(`${PREFIX}/p%name.py`));
    assert.deepEqual(tests!.trim().split('\n').slice(0, 3), [
      '# fx-tests',
      `${PREFIX}/pkg/tests`,
      `${PREFIX}/pkg/tests/__init__.py`,
    ]);

    const j = runCli(['split', root, '--policy', 'optimized', '--prefix', PREFIX, '--format', 'json']);
    assert.equal(j.status, 0, j.stderr);
    const report = JSON.parse(j.stdout) as SplitReport;
    assert.equal(report.schema, 'pyfloppy.split/1');
    assert.equal(report.policy, 'optimized');
    assert.equal(report.prefix, PREFIX);
    assert.equal(report.check.ok, true);
    assert.deepEqual(report.check.counts, { disjoint: 0, cover: 0, subset: 0 });
    for (const s of report.sections) {
      assert.ok(Array.isArray(s.files) && Array.isArray(s.dirs) && Array.isArray(s.ghosts));
      assert.equal(s.counts.files, s.files.length);
      assert.ok(s.apparentBytes > 0 && s.allocatedBytes > 0);
    }
  });

  it('--output-dir writes one file per section and lists them; the json split re-checks with --check', (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const out = tempDir();
    try {
      const r = runCli([
        'split',
        root,
        '--policy',
        'bytecode',
        '--prefix',
        PREFIX,
        '--name',
        'fx',
        '--output-dir',
        out,
      ]);
      assert.equal(r.status, 0, r.stderr);
      const names = ['fx', 'fx-bytecode-cache', 'fx-bytecode-cache-opt-1', 'fx-bytecode-cache-opt-2'];
      assert.deepEqual(fs.readdirSync(out).sort(), names.map((n) => `${n}.files`).sort());
      for (const n of names) assert.match(r.stdout, new RegExp(`^wrote ${out}/${n}\\.files$`, 'm'));
      assert.match(r.stdout, /^check: ok \(disjoint ok, cover ok, subset ok\)$/m);
      assert.ok(fs.readFileSync(path.join(out, 'fx.files'), 'utf8').startsWith(`%dir ${PREFIX}\n`));

      const j = runCli([
        'split',
        root,
        '--policy',
        'bytecode',
        '--prefix',
        PREFIX,
        '--name',
        'fx',
        '--format',
        'json',
        '--output-dir',
        out,
      ]);
      assert.equal(j.status, 0, j.stderr);
      const file = path.join(out, 'fx.split.json');
      assert.match(j.stdout, new RegExp(`^wrote ${file}$`, 'm'));
      const ok = runCli(['split', root, '--check', file]);
      assert.equal(ok.status, 0, ok.stderr);
      // The verdict, not the lists it checked (they are in the file); --format asks for them.
      assert.match(ok.stdout, /^check: ok \(disjoint ok, cover ok, subset ok\)$/m);
      assert.doesNotMatch(ok.stdout, /^%files/m);
      assert.match(runCli(['split', root, '--check', file, '--format', 'rpm']).stdout, /^%files -n fx$/m);

      // Hand-edited: a source moved into the cache package, a cache dropped from every section.
      const report = JSON.parse(fs.readFileSync(file, 'utf8')) as SplitReport;
      const moved = `${PREFIX}/pkg/core.py`;
      report.sections[1]!.files.push(moved);
      const dropped = report.sections[2]!.files.shift()!;
      fs.writeFileSync(file, JSON.stringify(report));
      const bad = runCli(['split', root, '--policy', 'bytecode', '--check', file, '--format', 'json']);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /^pyfloppy: check failed: 1 disjoint, 1 cover, 1 subset$/m);
      assert.ok(
        bad.stderr.includes(`  disjoint: ${moved}: owned by 2 sections: fx, fx-bytecode-cache`),
        bad.stderr,
      );
      assert.ok(bad.stderr.includes(`  cover: ${dropped}: file of the tree owned by no section`), bad.stderr);
      assert.ok(
        bad.stderr.includes(`  subset: ${dropped}: %ghost in fx but owned by no other section`),
        bad.stderr,
      );
      const rechecked = JSON.parse(bad.stdout) as SplitReport;
      assert.equal(rechecked.check.ok, false);
      assert.equal(rechecked.checkedFile, file);

      const otherPolicy = runCli(['split', root, '--policy', 'tests', '--check', file]);
      assert.equal(otherPolicy.status, 2);
      assert.match(otherPolicy.stderr, /is a split by policy 'bytecode', not 'tests'/);
      fs.writeFileSync(file, '{"schema": "something else"}');
      const notSplit = runCli(['split', root, '--check', file]);
      assert.equal(notSplit.status, 2);
      assert.match(notSplit.stderr, /is not a pyfloppy split/);
    } finally {
      removeTree(out);
    }
  });

  it('a name rpm cannot take is a problem (and a comment line), not an error; nothing to split is a warning', (t) => {
    if (!have(t, py, cpython('3.9 or later'))) return;
    const d = tempDir();
    try {
      writeTree(d, { 'ok.py': '', 'tab\there.txt': 'x' });
      const r = runCli(['split', d, '--policy', 'bytecode', '--prefix', PREFIX, '--name', 'fx']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /^pyfloppy: warning: nothing to split: the tree has no bytecode caches/m);
      assert.match(
        r.stderr,
        /^pyfloppy: problem: \/opt\/fixture\/tab\there\.txt: a control character .* \(ERPMNAME\)$/m,
      );
      assert.match(r.stdout, /^# pyfloppy: not listed \(a control character/m);
    } finally {
      removeTree(d);
    }
  });
});
