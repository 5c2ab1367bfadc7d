/**
 * The `replace` operation that rewrites a distribution's list (src/plan/record.ts), on a site-packages made
 * here and compiled by CPython 3.13: a dist-info (RECORD) and an egg-info (installed-files.txt, paths relative
 * to the egg-info directory, no hashes), judged by importlib.metadata after `sourceless`; the plan validator
 * refuses a `replace` whose path another operation names, or whose bytes are not the recorded ones; and apply
 * SIGKILLed at each of the replace step's five system calls: `--rollback` gives back the RECORD byte for byte
 * (and the whole tree), and apply again finishes it with the planned RECORD.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { type Plan, type PlanOperation, parsePlan, plan } from '../src/plan/plan.js';
import { csvFields, recordHash } from '../src/plan/record.js';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { compileAllLevels, cpython, interpreter, runPython } from './helpers/python.js';
import { fastTempDir, removeTree, snapshot, writeTree } from './helpers/tree.js';

const py = interpreter('3.13');
const work = fastTempDir('pyfloppy-record-journal-');
after(() => removeTree(work));

const SOURCES: Record<string, string> = {
  'flop/__init__.py': '"""flop"""\n',
  'flop/core.py': 'def answer():\n    return 42\n',
  'flop/data.txt': 'kept\n',
  'eggy/__init__.py': 'X = 1\n',
  'eggy/util.py': 'Y = 2\n',
};

/** Every file of the tree below `dir` (relative to root). */
function filesBelow(root: string, dir: string): string[] {
  return fs
    .readdirSync(path.join(root, dir), { recursive: true })
    .map((f) => path.posix.join(dir, String(f)))
    .filter((f) => fs.lstatSync(path.join(root, f)).isFile());
}

/** A site-packages with flop (dist-info, RECORD with hashes) and eggy (egg-info, installed-files.txt). */
function sitePackages(name: string): string {
  const root = path.join(work, name);
  writeTree(root, {
    ...SOURCES,
    'flop-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: flop\nVersion: 1.0\n',
    'eggy-2.0.egg-info/PKG-INFO': 'Metadata-Version: 1.1\nName: eggy\nVersion: 2.0\n',
  });
  compileAllLevels(py!, root);
  const row = (f: string): string => {
    const data = fs.readFileSync(path.join(root, f));
    return `${f},${recordHash(crypto.createHash('sha256').update(data).digest('hex'))},${data.length}\n`;
  };
  const flop = [...filesBelow(root, 'flop'), 'flop-1.0.dist-info/METADATA'].sort();
  fs.writeFileSync(
    path.join(root, 'flop-1.0.dist-info/RECORD'),
    `${flop.map(row).join('')}flop-1.0.dist-info/RECORD,,\n`,
  );
  const eggy = [...filesBelow(root, 'eggy').map((f) => `../${f}`), 'PKG-INFO', 'installed-files.txt'];
  fs.writeFileSync(path.join(root, 'eggy-2.0.egg-info/installed-files.txt'), `${eggy.sort().join('\n')}\n`);
  return root;
}

async function planFile(root: string, file: string, strategies = ['sourceless']): Promise<Plan> {
  const p = await plan({ strategies, path: root, workers: 0 });
  fs.writeFileSync(file, JSON.stringify(p));
  return p;
}

/** importlib.metadata's view of each distribution: listed files that are missing, files not listed. */
const JUDGE = String.raw`
import json, os, sys
from importlib import metadata
sp = sys.argv[1]
out = {}
for d in metadata.distributions(path=[sp]):
    listed = {os.path.normpath(os.path.join(sp, str(f))) for f in d.files}
    name = d.metadata['Name']
    top = os.path.join(sp, name)
    meta = str(d._path)  # the metadata directory (PathDistribution)
    present = {os.path.join(dp, n) for base in (top, meta) for dp, _, fn in os.walk(base) for n in fn}
    out[name] = {'missing': sorted(os.path.relpath(p, sp) for p in listed - present),
                 'unlisted': sorted(os.path.relpath(p, sp) for p in present - listed),
                 'files': sorted(os.path.relpath(p, sp) for p in listed)}
print(json.dumps(out))
`;

describe('replace: a distribution list rewritten by the plan', () => {
  it('sourceless: RECORD and installed-files.txt name the files left (importlib.metadata)', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = sitePackages('both');
    const file = path.join(work, 'both.json');
    const p = await planFile(root, file);
    const replaced = p.operations.filter((o) => o.op === 'replace').map((o) => o.path);
    assert.deepEqual(replaced.sort(), ['eggy-2.0.egg-info/installed-files.txt', 'flop-1.0.dist-info/RECORD']);
    assert.equal(p.counts.replace, 2);
    const r = runCli(['apply', file]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const j = JSON.parse(runPython(py, JUDGE, [root])) as Record<
      string,
      { missing: string[]; unlisted: string[]; files: string[] }
    >;
    for (const name of ['flop', 'eggy']) {
      assert.deepEqual(j[name]!.missing, [], `${name}: listed but missing`);
      assert.deepEqual(j[name]!.unlisted, [], `${name}: present but not listed`);
    }
    assert.ok(j.eggy!.files.includes('eggy/util.pyc') && !j.eggy!.files.includes('eggy/util.py'));
    const lines = fs
      .readFileSync(path.join(root, 'eggy-2.0.egg-info/installed-files.txt'), 'utf8')
      .split('\n');
    assert.ok(lines.includes('../eggy/util.pyc'), lines.join(' | '));
    // The rows no operation touched keep their text and order; the new files follow.
    assert.deepEqual(lines, [
      'PKG-INFO',
      'installed-files.txt',
      '../eggy/__init__.pyc',
      '../eggy/util.pyc',
      '',
    ]);
    assert.match(
      fs.readFileSync(path.join(root, 'flop-1.0.dist-info/RECORD'), 'utf8'),
      /^flop-1\.0\.dist-info\/METADATA,sha256=[\w-]{43},\d+\nflop\/data\.txt,sha256=[\w-]{43},5\n/,
    );
  });

  it('the validator refuses a replace whose path another operation names, or whose bytes differ', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = sitePackages('validate');
    const p = await planFile(root, path.join(work, 'validate.json'));
    const n = p.operations.findIndex((o) => o.op === 'replace');
    const o = p.operations[n] as Extract<PlanOperation, { op: 'replace' }>;
    const twice = {
      ...p,
      operations: [
        ...p.operations,
        { op: 'remove', path: o.path, fp: o.fp, frees: { apparentBytes: 0, allocatedBytes: 0 } },
      ],
    };
    assert.throws(
      () => parsePlan(JSON.stringify(twice), 'x.json'),
      new RegExp(
        `names ${o.path.replaceAll('.', '\\.')}, which operation ${n} \\(replace\\) already changed`,
      ),
    );
    const forged = structuredClone(p);
    const f = forged.operations[n] as typeof o;
    f.content.inline = Buffer.from('forged\n').toString('base64');
    f.size = 7;
    assert.throws(
      () => parsePlan(JSON.stringify(forged), 'x.json'),
      /content\.inline does not match content\.sha256/,
    );
    const noFp = structuredClone(p);
    delete (noFp.operations[n] as { fp?: unknown }).fp;
    assert.throws(() => parsePlan(JSON.stringify(noFp), 'x.json'), /\(replace\): fp is missing/);
  });
});

/** Run apply in a child that SIGKILLs itself at the k-th system call of the replace of RECORD (operation n). */
function applyKilledAt(file: string, n: number, k: number): number | null {
  const dist = fileURLToPath(new URL('../src/', import.meta.url));
  const script = `
import { apply } from ${JSON.stringify(path.join(dist, 'apply/apply.js'))};
import { realJournalCalls } from ${JSON.stringify(path.join(dist, 'fsops/journal.js'))};
let count = 0;
const hit = (p) => /\\/RECORD$/.test(String(p)) || /\\/${n}(\\.new|\\.tmp)?$/.test(String(p));
const wrap = (name) => (...a) => {
  if (a.some(hit) && ++count === ${k}) process.kill(process.pid, 'SIGKILL');
  return realJournalCalls[name](...a);
};
const calls = { ...realJournalCalls, writeNew: wrap('writeNew'), rename: wrap('rename'), link: wrap('link') };
const r = await apply({ planFile: ${JSON.stringify(file)}, calls });
process.exitCode = r.outcome === 'applied' ? 0 : 1;
`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).status;
}

const sha = (f: string): string => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const contents = (root: string): Map<string, string> =>
  new Map([...snapshot(root)].filter(([p]) => !p.startsWith('.pyfloppy')).map(([p, s]) => [p, s.sha256]));

describe('replace killed at each of its system calls', () => {
  // writeNew n.tmp, rename to n.new, link RECORD into the journal, link n.new beside RECORD, rename over it.
  for (let k = 1; k <= 5; k++) {
    it(`SIGKILL at call ${k}: --rollback restores RECORD byte for byte; apply again finishes it`, async (t) => {
      if (!have(t, py, cpython('3.13'))) return;
      for (const then of ['rollback', 'resume'] as const) {
        const root = sitePackages(`kill-${k}-${then}`);
        const record = path.join(root, 'flop-1.0.dist-info/RECORD');
        const before = contents(root);
        const file = path.join(work, `kill-${k}-${then}.json`);
        const p = await planFile(root, file);
        const n = p.operations.findIndex((o) => o.op === 'replace' && o.path.endsWith('/RECORD'));
        const planned = (p.operations[n] as Extract<PlanOperation, { op: 'replace' }>).content.sha256;
        assert.equal(applyKilledAt(file, n, k), null, 'the child was killed');
        assert.ok(fs.existsSync(path.join(root, '.pyfloppy-journal')));
        const r = runCli(then === 'rollback' ? ['apply', '--rollback', file] : ['apply', file]);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        if (then === 'rollback') {
          assert.deepEqual(contents(root), before, 'the tree as it was');
          assert.equal(fs.existsSync(path.join(root, '.pyfloppy-journal')), false);
        } else {
          assert.equal(sha(record), planned, 'the planned RECORD');
          assert.ok(
            !fs.existsSync(path.join(root, 'flop/core.py')) &&
              fs.existsSync(path.join(root, 'flop/core.pyc')),
          );
        }
      }
    });
  }
});

describe('a replace left in the journal proves itself', () => {
  it('its new file changed in the journal: apply and --rollback refuse, and change nothing', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = sitePackages('tampered');
    const record = path.join(root, 'flop-1.0.dist-info/RECORD');
    const original = fs.readFileSync(record);
    const file = path.join(work, 'tampered.json');
    const p = await planFile(root, file);
    const n = p.operations.findIndex((o) => o.op === 'replace' && o.path.endsWith('/RECORD'));
    assert.equal(applyKilledAt(file, n, 3), null, 'killed with the new RECORD in the journal');
    const made = path.join(root, '.pyfloppy-journal', `${n}.new`);
    fs.writeFileSync(made, 'flop/core.py,,\n'); // a hand edit: another file listed
    for (const args of [
      ['apply', file],
      ['apply', '--rollback', file],
    ]) {
      const r = runCli(args);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /has other bytes than the plan carries/);
    }
    assert.ok(fs.readFileSync(record).equals(original), 'RECORD untouched');
  });
});

describe('RECORD rows as CSV', () => {
  it('csvFields reads what Python csv writes; recordHash is urlsafe base64 without padding', () => {
    assert.deepEqual(csvFields('pkg/a.py,sha256=x,3'), ['pkg/a.py', 'sha256=x', '3']);
    assert.deepEqual(csvFields('"pkg/a,b.py",sha256=x,3'), ['pkg/a,b.py', 'sha256=x', '3']);
    assert.deepEqual(csvFields('"say ""hi"".txt",,'), ['say "hi".txt', '', '']);
    assert.deepEqual(csvFields('x.dist-info/RECORD,,'), ['x.dist-info/RECORD', '', '']);
    // SHA-256 of b'' as pip writes it: 47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU
    assert.equal(
      recordHash(crypto.createHash('sha256').update('').digest('hex')),
      'sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU',
    );
  });
});
