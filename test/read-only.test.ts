/**
 * The commands that promise to change nothing in a tree (analyze, check, plan, split) leave a copy of the
 * 3.13 stdlib, compiled at every level, exactly as it was: every path, inode, size, mtime, ctime, mode and
 * link count, directories included (a temporary made and removed inside the tree shows in its directory's
 * mtime). Bytecode writes are allowed (PYTHONDONTWRITEBYTECODE unset), so an interpreter run on the tree
 * would show. And analyze --output writes its report atomically, as strace sees it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { cpython, interpreter, stdlibOf } from './helpers/python.js';
import { copyTree, fastTempDir, metadata, removeTree, tempDir, writeTree } from './helpers/tree.js';

const py = interpreter('3.13');
/** The environment of every command here: bytecode writes allowed, as on a user's machine. */
const WRITES = { PYTHONDONTWRITEBYTECODE: undefined } as unknown as NodeJS.ProcessEnv;

describe('analyze, check, plan and split change nothing in the tree', () => {
  let work = '';
  let prefix = '';
  let lib = '';
  let out = '';
  before(() => {
    if (py === undefined) return;
    work = fastTempDir('pyfloppy-readonly-');
    prefix = path.join(work, 'prefix');
    lib = path.join(prefix, 'lib', 'python3.13');
    out = path.join(work, 'out');
    fs.mkdirSync(out);
    fs.mkdirSync(path.dirname(lib), { recursive: true });
    // The installed stdlib with its caches (levels 0-2), the biggest packages left out to keep it quick.
    copyTree(stdlibOf(py), lib, {
      exclude: ['test', 'idlelib', 'tkinter', 'turtledemo', 'site-packages', 'ensurepip', 'lib2to3'],
    });
    // A stale cache and an orphan, so that check has findings to report (and must still write nothing).
    fs.appendFileSync(path.join(lib, 'json', 'tool.py'), '\n# edited after compiling\n');
    writeTree(lib, { '__pycache__/orphan.cpython-313.pyc': 'not a cache' });
  });
  after(() => {
    if (work !== '') removeTree(work);
  });

  const commands: Array<[string, () => string[]]> = [
    ['analyze (text)', () => ['analyze', lib]],
    ['analyze --json, with the interpreter', () => ['analyze', lib, '--python', py!.exe, '--json']],
    [
      'analyze --format html --output outside',
      () => ['analyze', lib, '--format', 'html', '-o', `${out}/r.html`],
    ],
    ['analyze --baseline-subset python3-libs', () => ['analyze', lib, '--baseline-subset', 'python3-libs']],
    ['check', () => ['check', lib, '--python', py!.exe]],
    [
      'check --json --expect-prefix',
      () => ['check', lib, '--json', '--expect-prefix', '/usr/lib/python3.13'],
    ],
    [
      'plan of every strategy, -o outside',
      () => ['plan', 'sourceless,dedup,zip-data', lib, '-o', `${out}/p.json`],
    ],
    ['plan zip-stdlib on stdout', () => ['plan', 'zip-stdlib', lib, '--json']],
    // The runtime's caches compiled by the interpreter: nothing written into the tree either.
    ['plan pysources,strip-tests', () => ['plan', 'pysources,strip-tests', lib, '--python', py!.exe]],
    ['plan no-bytecode', () => ['plan', 'no-bytecode', lib, '--python', py!.exe]],
    ['split bytecode (rpm)', () => ['split', lib, '--policy', 'bytecode']],
    [
      'split optimized --output-dir outside',
      () => ['split', lib, '--policy', 'optimized', '--output-dir', out],
    ],
    ['split tests --format json', () => ['split', lib, '--policy', 'tests', '--format', 'json']],
    ['split sources --format list', () => ['split', lib, '--policy', 'sources', '--format', 'list']],
  ];

  for (const [name, args] of commands) {
    it(`${name}: every path, inode, size, mtime, ctime, mode and link count as before`, (t) => {
      if (!have(t, py, cpython('3.13'))) return;
      const beforeRun = metadata(prefix);
      const r = runCli(args(), { env: WRITES });
      assert.ok(r.status === 0 || r.status === 1, `${args().join(' ')}: exit ${r.status}\n${r.stderr}`);
      assert.ok(r.stdout.length > 0 || fs.readdirSync(out).length > 0, 'the command produced something');
      assert.deepEqual(metadata(prefix), beforeRun);
    });
  }

  it('check does find the stale cache and the orphan it was given (the tree was worth checking)', (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const r = runCli(['check', lib, '--json'], { env: WRITES });
    assert.equal(r.status, 1);
    const ids = (JSON.parse(r.stdout) as { findings: Array<{ id: string; path: string }> }).findings.map(
      (f) => `${f.id} ${path.relative(lib, f.path)}`,
    );
    assert.ok(
      ids.some((f) => f.endsWith(' json/tool.py') || f.includes('json/__pycache__/tool.')),
      ids.join('\n'),
    );
    assert.ok(
      ids.some((f) => f.includes('orphan')),
      ids.join('\n'),
    );
  });
});

describe('analyze --output writes atomically', () => {
  it('a new inode renamed over the old report; a reader of the old one still reads it whole; no temporary left', (t) => {
    const d = tempDir();
    try {
      writeTree(d, { 'tree/m.py': 'x = 1\n' });
      const report = path.join(d, 'report.json');
      fs.writeFileSync(report, 'the old report\n');
      const oldIno = fs.statSync(report).ino;
      const fd = fs.openSync(report, 'r');
      try {
        const r = runCli(['analyze', path.join(d, 'tree'), '--json', '-o', report]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr, `pyfloppy: wrote ${report}\n`);
        assert.notEqual(fs.statSync(report).ino, oldIno, 'replaced by rename, not rewritten in place');
        assert.equal(fs.readFileSync(fd, 'utf8'), 'the old report\n');
      } finally {
        fs.closeSync(fd);
      }
      assert.equal(
        (JSON.parse(fs.readFileSync(report, 'utf8')) as { schema: string }).schema,
        'pyfloppy.analyze/1',
      );
      assert.deepEqual(fs.readdirSync(d).sort(), ['report.json', 'tree']);

      // The system calls, as strace records them: created exclusively beside the report, synced, renamed.
      const strace = spawnSync('strace', ['-V']).status === 0;
      if (!have(t, strace, "strace (Debian's strace)")) return;
      const log = path.join(d, 'strace.log');
      const traced = spawnSync(
        'strace',
        [
          '-f',
          '-qq',
          '-o',
          log,
          '-e',
          'trace=openat,rename,renameat,renameat2,fsync,fdatasync',
          process.execPath,
          BIN,
          'analyze',
          path.join(d, 'tree'),
          '--json',
          '-o',
          report,
        ],
        { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
      );
      assert.equal(traced.status, 0, traced.stderr);
      const lines = fs.readFileSync(log, 'utf8').split('\n');
      const q = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const created = lines.findIndex((l) =>
        new RegExp(`openat\\(AT_FDCWD, "${q(d)}/[^/"]+", [^)]*O_CREAT[^)]*O_EXCL`).test(l),
      );
      assert.ok(created >= 0, `no exclusive creation beside the report:\n${lines.join('\n')}`);
      const tmp = /openat\(AT_FDCWD, "([^"]+)"/.exec(lines[created]!)![1]!;
      assert.notEqual(tmp, report);
      const fdNum = /= (\d+)$/.exec(lines[created]!)![1]!;
      const synced = lines.findIndex(
        (l, k) => k > created && new RegExp(`f(data)?sync\\(${fdNum}\\)`).test(l),
      );
      assert.ok(synced > created, 'the temporary is synced');
      const renamed = lines.findIndex(
        (l, k) => k > synced && l.includes('rename') && l.includes(`"${tmp}"`) && l.includes(`"${report}"`),
      );
      assert.ok(renamed > synced, 'then renamed over the report');
      assert.ok(
        !lines.some((l) => new RegExp(`openat\\(AT_FDCWD, "${q(report)}", [^)]*O_(WRONLY|RDWR)`).test(l)),
        'the report itself is never opened for writing',
      );
    } finally {
      removeTree(d);
    }
  });

  it('a failed run (no space left) leaves the old report whole and no temporary beside it', (t) => {
    const d = tempDir();
    const mnt = path.join(d, 'small');
    fs.mkdirSync(mnt);
    let mounted = false;
    try {
      mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]).status === 0;
      if (!have(t, mounted, 'mounting a tmpfs (root, CAP_SYS_ADMIN)')) return;
      // A tree whose JSON report is far larger than the 64 KiB the file system holds.
      writeTree(
        d,
        Object.fromEntries(Array.from({ length: 2000 }, (_, k) => [`tree/m${k}.py`, `x = ${k}\n`])),
      );
      const report = path.join(mnt, 'report.json');
      fs.writeFileSync(report, 'the old report\n');
      const r = runCli(['analyze', path.join(d, 'tree'), '--json', '-o', report]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /^pyfloppy: error: .*report\.json.*(ENOSPC|no space)/im);
      assert.equal(fs.readFileSync(report, 'utf8'), 'the old report\n');
      assert.deepEqual(fs.readdirSync(mnt), ['report.json']);
    } finally {
      if (mounted) spawnSync('umount', [mnt]);
      removeTree(d);
    }
  });
});
