/**
 * Distribution metadata kept true by plan + apply (src/plan/record.ts), judged by pip and importlib.metadata
 * in a real virtual environment of CPython 3.13 (else 3.12): pip's own distribution (installed by ensurepip,
 * with its compiled caches and `../../../bin/pip` rows in RECORD) and `flop`, a wheel built here and
 * installed with `pip install --no-index` (a package with a data file, a top-level module, a file name with
 * a comma). After `sourceless,dedup` and after `pysources` (each on a fresh copy of the venv), through the
 * built CLI: every RECORD row exists with its hash and size, every file of a distribution's directories is
 * in its RECORD, `importlib.metadata.files()` names exactly the files there are, `pip check` passes and
 * `pip uninstall -y` leaves nothing of either distribution. `apply --rollback` gives back each RECORD byte
 * for byte; `check` reports a RECORD broken by hand (stale-record) and is clean after an apply.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { check } from '../src/check/check.js';
import { csvFields, recordHash } from '../src/plan/record.js';
import { parsePlan, type Plan } from '../src/plan/plan.js';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { interpreter } from './helpers/python.js';
import { fastTempDir, removeTree } from './helpers/tree.js';

/** Build flop-1.0-py3-none-any.whl in argv[1] (the wheel spec's layout, RECORD with hashes). */
const BUILD_WHEEL = String.raw`
import base64, hashlib, sys, zipfile
files = {
    'flop/__init__.py': '"""flop"""\nfrom flop.core import answer\n',
    'flop/core.py': 'def answer():\n    """the answer"""\n    return 42\n',
    'flop/sub/__init__.py': '',
    'flop/sub/a,b.py': 'X = 1\n',
    'flop/data/words.txt': 'one\ntwo\n',
    'flopmod.py': 'import flop\nVALUE = flop.answer()\n',
    'flop-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: flop\nVersion: 1.0\n',
    'flop-1.0.dist-info/WHEEL': 'Wheel-Version: 1.0\nGenerator: pyfloppy-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    'flop-1.0.dist-info/top_level.txt': 'flop\nflopmod\n',
}
def row(name, data):
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    q = '"%s"' % name if ',' in name else name
    return '%s,sha256=%s,%d\n' % (q, h, len(data))
record = ''.join(row(n, d.encode()) for n, d in files.items()) + 'flop-1.0.dist-info/RECORD,,\n'
with zipfile.ZipFile(sys.argv[1] + '/flop-1.0-py3-none-any.whl', 'w') as z:
    for n, d in files.items():
        z.writestr(n, d)
    z.writestr('flop-1.0.dist-info/RECORD', record)
`;

/**
 * Per distribution of site-packages (argv[1]) as JSON: RECORD rows that are untrue, files of its directories
 * that no row names, and whether importlib.metadata.files() is exactly the files there are.
 */
const JUDGE = String.raw`
import base64, hashlib, json, os, sys
from importlib import metadata
sp = sys.argv[1]
out = {}
for d in metadata.distributions(path=[sp]):
    name = d.metadata['Name']
    bad, listed = [], set()
    for f in d.files or []:
        p = os.path.normpath(os.path.join(sp, str(f)))
        listed.add(p)
        if not os.path.isfile(p):
            bad.append('missing ' + str(f)); continue
        data = open(p, 'rb').read()
        if f.hash is not None:
            h = base64.urlsafe_b64encode(hashlib.new(f.hash.mode, data).digest()).rstrip(b'=').decode()
            if h != f.hash.value: bad.append('hash ' + str(f))
        if f.size is not None and f.size != len(data): bad.append('size ' + str(f))
    dirs = {os.path.dirname(p) for p in listed if os.path.dirname(p).startswith(sp + os.sep)}
    present = set()
    for top in dirs:
        for dp, _, fn in os.walk(top):
            present.update(os.path.join(dp, n) for n in fn)
    top_files = {os.path.join(sp, n) for n in os.listdir(sp) if n.split('.')[0] in ('flopmod',)}
    if name == 'flop': present |= top_files
    inside = {p for p in listed if p.startswith(sp + os.sep)}
    out[name] = {'bad': bad, 'unlisted': sorted(os.path.relpath(p, sp) for p in present - listed),
                 'rows': len(listed), 'exact': inside == present, 'files': sorted(os.path.relpath(p, sp) for p in inside)}
print(json.dumps(out))
`;

interface Judged {
  bad: string[];
  unlisted: string[];
  rows: number;
  exact: boolean;
  files: string[];
}

/** No PYTHONDONTWRITEBYTECODE (the machine sets it): pip and imports as a user has them. */
function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.PYTHONDONTWRITEBYTECODE;
  return e;
}

function run(exe: string, args: string[], cwd?: string): { status: number | null; out: string } {
  const r = spawnSync(exe, args, { encoding: 'utf8', env: env(), cwd, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function ok(exe: string, args: string[]): string {
  const r = run(exe, args);
  assert.equal(r.status, 0, `${exe} ${args.join(' ')}: ${r.out}`);
  return r.out;
}

describe('RECORD kept true by plan + apply (pip, importlib.metadata)', () => {
  const exe = (interpreter('3.13') ?? interpreter('3.12'))?.exe;
  let work = '';
  let base = '';
  let version = '';

  before(() => {
    if (exe === undefined) return;
    work = fastTempDir('pyfloppy-record-');
    base = path.join(work, 'base');
    ok(exe, ['-m', 'venv', base]);
    ok(exe, ['-c', BUILD_WHEEL, work]);
    version = ok(exe, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).trim();
    ok(path.join(base, 'bin', 'python'), [
      '-m',
      'pip',
      'install',
      '--no-index',
      '--no-cache-dir',
      '--disable-pip-version-check',
      path.join(work, 'flop-1.0-py3-none-any.whl'),
    ]);
  });
  after(() => {
    if (work !== '') removeTree(work);
  });

  /** A fresh copy of the venv: its python, its site-packages. */
  function venv(name: string): { py: string; sp: string } {
    const dir = path.join(work, name);
    assert.equal(spawnSync('cp', ['-a', base, dir]).status, 0);
    return {
      py: path.join(dir, 'bin', 'python'),
      sp: path.join(dir, 'lib', `python${version}`, 'site-packages'),
    };
  }

  function planApply(strategies: string, sp: string, file: string, commit = true): Plan {
    const p = runCli(['plan', strategies, sp, '-o', file]);
    assert.equal(p.status, 0, p.stderr);
    const a = runCli(['apply', file, ...(commit ? [] : ['--no-commit'])]);
    assert.equal(a.status, 0, a.stdout + a.stderr);
    return parsePlan(fs.readFileSync(file, 'utf8'), file);
  }

  function judge(py: string, sp: string): Record<string, Judged> {
    return JSON.parse(ok(py, ['-c', JUDGE, sp])) as Record<string, Judged>;
  }

  for (const [strategies, made] of [
    ['sourceless,dedup', ['flop/core.pyc', 'flop/sub/a,b.pyc', 'flopmod.pyc']],
    [
      'pysources',
      ['flop/core.pyc', 'flop/__pysources__/core.py.gz', 'flopmod.pyc', '__pysources__/flopmod.py.gz'],
    ],
  ] as const) {
    it(`${strategies}: RECORD names exactly the files left, with their hashes; pip check and uninstall agree`, (t) => {
      if (!have(t, exe, 'CPython 3.13 or 3.12 (pyenv)')) return;
      const { py, sp } = venv(strategies.replace(',', '+'));
      const p = planApply(strategies, sp, path.join(work, `${strategies}.json`));
      const pipInfo = fs.readdirSync(sp).find((n) => /^pip-.*\.dist-info$/.test(n))!;
      assert.deepEqual(p.operations.flatMap((o) => (o.op === 'replace' ? [o.path] : [])).sort(), [
        'flop-1.0.dist-info/RECORD',
        `${pipInfo}/RECORD`,
      ]);
      assert.ok(!fs.existsSync(path.join(sp, 'flop', 'core.py')), 'the layout removed the source');
      const j = judge(py, sp);
      for (const name of ['flop', 'pip']) {
        assert.deepEqual(j[name]!.bad, [], `${name}: RECORD rows that are untrue`);
        assert.deepEqual(j[name]!.unlisted, [], `${name}: files RECORD does not name`);
        assert.ok(j[name]!.exact, `${name}: importlib.metadata.files() is not the files there are`);
      }
      for (const f of made)
        assert.ok(j.flop!.files.includes(f), `${f} not in RECORD: ${j.flop!.files.join(' ')}`);
      assert.ok(!j.flop!.files.some((f) => f.endsWith('.py')), j.flop!.files.join(' '));
      assert.equal(ok(py, ['-c', 'import flopmod; print(flopmod.VALUE)']).trim(), '42');
      ok(py, ['-m', 'pip', 'check', '--disable-pip-version-check']);
      const uninstalled = ok(py, ['-m', 'pip', 'uninstall', '-y', '--disable-pip-version-check', 'flop']);
      assert.match(uninstalled, /Successfully uninstalled flop-1\.0/);
      ok(py, ['-m', 'pip', 'uninstall', '-y', '--disable-pip-version-check', 'pip']);
      // What is left: no file; the sys.path directory's own __pycache__, emptied (plan keeps it).
      const left = fs.readdirSync(sp, { recursive: true }).map(String);
      assert.deepEqual(
        left.filter((f) => f !== '__pycache__'),
        [],
        'pip uninstall left files behind',
      );
      assert.ok(left.length === 0 || fs.statSync(path.join(sp, '__pycache__')).isDirectory());
    });
  }

  it('apply --rollback gives back each RECORD byte for byte', (t) => {
    if (!have(t, exe, 'CPython 3.13 or 3.12 (pyenv)')) return;
    const { sp } = venv('rollback');
    const records = fs
      .readdirSync(sp)
      .filter((n) => n.endsWith('.dist-info'))
      .map((n) => path.join(sp, n, 'RECORD'));
    const before = records.map((r) => fs.readFileSync(r));
    const file = path.join(work, 'rollback.json');
    planApply('sourceless,dedup', sp, file, false);
    assert.ok(
      records.every((r, k) => !fs.readFileSync(r).equals(before[k]!)),
      'the apply rewrote each RECORD',
    );
    const rb = runCli(['apply', '--rollback', file]);
    assert.equal(rb.status, 0, rb.stdout + rb.stderr);
    records.forEach((r, k) =>
      assert.ok(fs.readFileSync(r).equals(before[k]!), `${r} differs after --rollback`),
    );
    assert.ok(fs.existsSync(path.join(sp, 'flop', 'core.py')));
  });

  it('check reports a RECORD broken by hand (stale-record), and is clean of it after an apply', async (t) => {
    if (!have(t, exe, 'CPython 3.13 or 3.12 (pyenv)')) return;
    const { sp } = venv('broken');
    const record = path.join(sp, 'flop-1.0.dist-info', 'RECORD');
    const rows = fs.readFileSync(record, 'utf8').split('\n');
    const core = rows.findIndex((r) => csvFields(r)[0] === 'flop/core.py');
    rows[core] = `flop/core.py,${recordHash('0'.repeat(64))},${csvFields(rows[core]!)[2]}`;
    const init = rows.findIndex((r) => csvFields(r)[0] === 'flop/__init__.py');
    rows[init] = `flop/__init__.py,${csvFields(rows[init]!)[1]},1`;
    const dropped = ['flop-1.0.dist-info/top_level.txt', 'flop/data/words.txt'];
    const [topRow, wordsRow] = dropped.map((f) => rows.find((r) => csvFields(r)[0] === f)!);
    fs.writeFileSync(record, rows.filter((r) => !dropped.includes(csvFields(r)[0]!)).join('\n'));
    const stale = async (): Promise<string[]> =>
      (await check({ paths: [sp], workers: 0 })).findings
        .filter((f) => f.id === 'stale-record')
        .map((f) => `${path.relative(sp, f.path)}: ${f.message}`)
        .sort();
    const initSize = fs.statSync(path.join(sp, 'flop', '__init__.py')).size;
    assert.deepEqual(await stale(), [
      'flop-1.0.dist-info/top_level.txt: RECORD of flop does not name this file',
      `flop/__init__.py: RECORD of flop: records size 1 for flop/__init__.py, which has ${initSize} bytes`,
      `flop/core.py: RECORD of flop: records ${recordHash('0'.repeat(64)).replace('=', ' ')} for flop/core.py, which has other bytes`,
      // alone in its directory: owned through flop/
      'flop/data/words.txt: RECORD of flop does not name this file',
    ]);
    // The rows no layout touches are put back by hand; the two sources' rows go with the sources.
    fs.writeFileSync(
      record,
      `${fs.readFileSync(record, 'utf8').replace(/\n*$/, '\n')}${topRow}\n${wordsRow}\n`,
    );
    planApply('sourceless,dedup', sp, path.join(work, 'broken.json'));
    assert.deepEqual(await stale(), []);
  });
});
