import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyze, type AnalyzeReport } from 'pyfloppy';
import { BIN, runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { interpreter, cpython } from './helpers/python.js';
import { duBytes, removeTree, tempDir, writeTree } from './helpers/tree.js';

describe('pyfloppy analyze (the built CLI)', () => {
  let root: string;
  before(() => {
    root = tempDir();
    writeTree(root, {
      'os.py': 'import sys\n'.repeat(300),
      '__pycache__/os.cpython-313.pyc': 'a'.repeat(6000),
      '__pycache__/os.cpython-313.opt-1.pyc': 'a'.repeat(6000),
      '__pycache__/os.cpython-313.opt-2.pyc': 'b'.repeat(5000),
      'email/__init__.py': '"""Email."""\n',
      'email/__pycache__/__init__.cpython-313.pyc': 'c'.repeat(900),
      'test/test_os.py': 'pass\n',
    });
  });
  after(() => removeTree(root));

  it('--help explains the commands, and analyze --help every option', () => {
    const top = runCli(['--help']);
    assert.equal(top.status, 0);
    assert.match(top.stdout, /analyze \[options\] \[path\.\.\.\]/);
    const r = runCli(['analyze', '--help']);
    assert.equal(r.status, 0);
    for (const opt of [
      '--python <exe>',
      '--format <format>',
      '--json',
      '--top <n>',
      '--apparent',
      'Exit status',
    ]) {
      assert.ok(r.stdout.includes(opt), `analyze --help lacks ${opt}`);
    }
  });

  it("--json is the versioned report, equal to the library's analyze(), with du's totals", async () => {
    const r = runCli(['analyze', root, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, ''); // piped: no progress line
    const report = JSON.parse(r.stdout) as AnalyzeReport;
    assert.equal(report.schema, 'pyfloppy.analyze/1');
    const du = duBytes(root);
    assert.equal(report.grandTotal.apparentBytes, du.apparent);
    assert.equal(report.grandTotal.allocatedBytes, du.allocated);
    assert.deepEqual(Object.keys(report.totals), [
      'source',
      'bytecode-0',
      'bytecode-1',
      'bytecode-2',
      'legacy-bytecode',
      'extension',
      'metadata',
      'data',
      'directory',
      'symlink',
    ]);
    assert.equal(report.totals.source.files, 3);
    assert.equal(report.totals['bytecode-0'].apparentBytes, 6900);
    assert.deepEqual(
      {
        modules: report.bytecode.modules,
        identical01: report.bytecode.identical01,
        identical12: report.bytecode.identical12,
      },
      { modules: 2, identical01: 1, identical12: 0 },
    );
    assert.deepEqual(report.modules.map((m) => m.name).sort(), ['', 'email', 'os', 'test']);
    assert.equal(report.modules.find((m) => m.name === 'test')?.test, true);
    const lib = await analyze({ paths: [root] });
    assert.deepEqual(JSON.parse(JSON.stringify(lib)), report);
  });

  it("text and markdown show the seed's tables", () => {
    const text = runCli(['analyze', root, '--top', '2']);
    assert.equal(text.status, 0);
    assert.match(text.stdout, /Totals by file type/);
    assert.match(text.stdout, /\.opt-1\.pyc \(bytecode-1\)/);
    assert.match(text.stdout, /Biggest top-level modules, .* \(2 of 3\)/);
    assert.match(text.stdout, /identical level 0 and 1 +\| +1 \| 50\.0%/);
    const md = runCli(['analyze', root, '--format', 'markdown']);
    assert.equal(md.status, 0);
    assert.match(md.stdout, /^## pyfloppy analyze/m);
    assert.match(md.stdout, /^\| module +\| +\.py +\| +\.pyc +\| +\.opt-1\.pyc +\| +\.opt-2\.pyc +\|/m);
    assert.match(md.stdout, /^\| `os` +\|/m);
  });

  it('stops quietly when the reader closes the pipe early', () => {
    const big = tempDir();
    try {
      // Enough modules for a report of megabytes: the pipe closes while it is being written.
      writeTree(big, Object.fromEntries(Array.from({ length: 3000 }, (_, k) => [`m${k}.py`, 'x = 1\n'])));
      const r = spawnSync(
        'bash',
        [
          '-c',
          // The exit status of node, not of head (a pipeline's own is its last command's: always 0 here).
          `node ${JSON.stringify(BIN)} analyze ${JSON.stringify(big)} --json | head -c 10 >/dev/null; echo "node exited \${PIPESTATUS[0]}"`,
        ],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(r.stdout, 'node exited 0\n');
      assert.equal(r.stderr, '');
      // The report is far larger than a pipe holds (64 KiB), so the pipe did close before it was written.
      assert.ok(runCli(['analyze', big, '--json']).stdout.length > 1024 * 1024);
    } finally {
      removeTree(big);
    }
  });

  it('prints the savings table in text and markdown, and strategies in the JSON; --no-strategies skips them', () => {
    const text = runCli(['analyze', root]);
    assert.match(text.stdout, /^Savings of each strategy, disk usage .*, of the whole tree \(/m);
    assert.match(text.stdout, /^dedup +\| 001 Solution 9; 002 +\|.*\| none$/m);
    // Text: the constraints in the table, the risks told below it, every line within 100 columns.
    // (The seed column wraps: how far depends on the widest strategy id.)
    assert.match(text.stdout, /^sourceless +\| 001 Solution 7; 000( Minimal( 2)?)? +\|.*\| \(1\) \(2\)$/m);
    assert.match(text.stdout, /^- sourceless: \(1\) tracebacks show no source lines/m);
    const wide = text.stdout.split('\n').filter((l) => l.length > 100);
    assert.deepEqual(wide, []);
    const md = runCli(['analyze', root, '--format', 'markdown']);
    assert.match(
      md.stdout,
      /^\| `sourceless` +\| 001 Solution 7; 000 Minimal 2 .*\(1\) tracebacks show no source lines/m,
    );
    assert.match(md.stdout, /^### Savings of each strategy/m);
    assert.match(md.stdout, /^\| `drop-opt2\+dedup` +\|/m);
    const json = JSON.parse(runCli(['analyze', root, '--json']).stdout) as AnalyzeReport;
    const dedup = json.strategies.find((s) => s.id === 'dedup')!;
    assert.deepEqual(Object.keys(dedup).sort(), [
      'actionable',
      'after',
      'id',
      'note',
      'risks',
      'saved',
      'seedRef',
      'title',
    ]);
    // os: level 1 is identical to level 0 and not linked: dedup frees exactly that file's blocks.
    assert.equal(dedup.saved.apparentBytes, 6000);
    assert.equal(json.baseline?.apparentBytes, json.grandTotal.apparentBytes);
    const none = JSON.parse(runCli(['analyze', root, '--json', '--no-strategies']).stdout) as AnalyzeReport;
    assert.deepEqual(none.strategies, []);
    assert.equal(none.baseline, null);
  });

  it('--baseline-exclude and --baseline-no-tests make percentages of a subset', () => {
    const r = JSON.parse(
      runCli(['analyze', root, '--json', '--baseline-exclude', 'email', '--baseline-no-tests']).stdout,
    ) as AnalyzeReport;
    const b = r.baseline!;
    assert.deepEqual([b.excludeModules, b.excludeTests], [['email'], true]);
    const emailAndTests = r.modules
      .filter((m) => m.name === 'email' || m.name === 'test')
      .reduce((s, m) => s + m.apparentBytes, 0);
    assert.equal(b.apparentBytes, r.grandTotal.apparentBytes - emailAndTests);
  });

  it('--output writes the report atomically, and an unwritable place is one clear error', () => {
    const out = path.join(root, 'out', 'report.json');
    const missing = runCli(['analyze', root, '--json', '--output', out]);
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr, `pyfloppy: error: cannot write ${out}: no such directory\n`);
    fs.mkdirSync(path.dirname(out));
    const ok = runCli(['analyze', root, '--json', '--output', out]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal((JSON.parse(fs.readFileSync(out, 'utf8')) as AnalyzeReport).schema, 'pyfloppy.analyze/1');
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ['report.json']); // no temporary left
    fs.rmSync(path.dirname(out), { recursive: true });
  });

  it('exits 2 with one clear line for a missing path, a file, a bad interpreter, a bad option', () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['analyze', '/nonexistent/lib/python3.99'],
        /^pyfloppy: error: no such file or directory: \/nonexistent\/lib\/python3\.99$/,
      ],
      [['analyze', path.join(root, 'os.py')], /^pyfloppy: error: not a directory: .*os\.py$/],
      [
        ['analyze', '--python', '/nonexistent/python3'],
        /^pyfloppy: error: interpreter not found: \/nonexistent\/python3$/,
      ],
      [
        ['analyze', '--python', '/bin/true'],
        /^pyfloppy: error: not a working Python interpreter: \/bin\/true$/,
      ],
      [['analyze', root, '--top', 'many'], /option '--top <n>' argument 'many' is invalid/],
      [
        ['analyze', root, '--format', 'pdf'],
        /argument 'pdf' is invalid\. Allowed choices are text, markdown, json/,
      ],
      [['analyze', root, '--frobnicate'], /unknown option '--frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const r = runCli(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr.split('\n')[0]!, message, args.join(' '));
    }
  });

  it('with no argument describes the python3 on PATH: its stdlib and site-packages', (t) => {
    const which = spawnSync('python3', ['-c', 'import sys; print(sys.version.split()[0])'], {
      encoding: 'utf8',
    });
    if (!have(t, which.status === 0, "python3 on PATH (Debian's python3)")) return;
    const r = runCli(['analyze', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as AnalyzeReport;
    assert.equal(report.interpreter?.version, which.stdout.trim());
    assert.ok(report.roots.some((x) => x.labels.includes('stdlib')));
    assert.ok(report.totals.source.files > 100);
    const text = runCli(['analyze', '--top', '3']);
    assert.match(
      text.stdout,
      new RegExp(
        `^pyfloppy analyze: Python ${which.stdout.trim().replaceAll('.', '\\.')} \\(cpython, cache tag cpython-3\\d+\\)`,
      ),
    );
  });

  it('--python describes Python 2.7 too (legacy caches, no cache tag)', (t) => {
    const py2 = interpreter('2.7');
    if (!have(t, py2, cpython('2.7'))) return;
    const r = runCli(['analyze', '--python', py2.exe, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as AnalyzeReport;
    assert.equal(report.interpreter?.cacheTag, null);
    assert.ok(report.totals['legacy-bytecode'].files > 100);
  });

  it('an unreadable part is reported and skipped, the rest analyzed, exit 0 with a warning', (t) => {
    const d = tempDir();
    try {
      writeTree(d, { 'ok/a.py': 'a = 1\n', 'locked/hidden.py': 'h = 1\n' });
      fs.chmodSync(path.join(d, 'ok'), 0o755);
      fs.chmodSync(path.join(d, 'ok/a.py'), 0o644);
      fs.chmodSync(path.join(d, 'locked'), 0o000);
      const r = runCli(['analyze', d, '--json'], { uid: 65534, gid: 65534 });
      if (!have(t, r.status !== null, 'running a command as another user (root)')) return;
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as AnalyzeReport;
      assert.equal(report.problems.length, 1);
      assert.equal(report.problems[0]!.path, `${fs.realpathSync(d)}/locked`);
      assert.equal(report.totals.source.files, 1);
      assert.match(
        r.stderr,
        /^pyfloppy: warning: 1 path could not be read and was skipped \(first: .*\/locked: permission denied\)$/m,
      );
    } finally {
      removeTree(d);
    }
  });
});
