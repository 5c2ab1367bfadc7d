/**
 * plan and apply on a generated tree compiled by the real CPython 3.13: each strategy's exact file tree
 * afterwards, the bytes freed equal to the plan (and to the catalog's estimate) as du measures them, the
 * refusals (a file changed, a name in the way, a symlinked directory), failures mid-run rolled back, and
 * --no-commit then --rollback restoring every path and inode.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { apply } from '../src/apply/apply.js';
import { type JournalCalls, realJournalCalls } from '../src/fsops/journal.js';
import { type Plan, plan } from '../src/plan/plan.js';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { compileAllLevels, interpreter, cpython, runPython } from './helpers/python.js';
import {
  ancestors,
  copyTree,
  directories,
  duBytes,
  fastTempDir,
  metadata,
  mkdirSlack,
  removeTree,
  snapshot,
  writeTree,
} from './helpers/tree.js';

const py = interpreter('3.13');
const TAG = 'cpython-313';

function sourceTree(root: string): void {
  writeTree(root, {
    'mod.py': '"""A module."""\nX = 1\n',
    'plain.py': 'Y = 2\n',
    'checks.py': 'def f(x):\n    assert x\n    return x\n',
    'pkg/__init__.py': '',
    'pkg/core.py': '"""Core."""\ndef g():\n    """Doc."""\n    assert True\n    return 3\n',
    'pkg/data.txt': 'not code\n',
    'pkg/sub/__init__.py': 'Z = 3\n',
    'pkg/sub/leaf.py': 'def h():\n    return 4\n',
    'pkg/tests/__init__.py': '',
    'pkg/tests/test_core.py': 'def test_g():\n    assert 1\n',
  });
}

const files = (root: string): string[] => [...snapshot(root).keys()].sort();

/** Relative path ('.' for the root) -> whether a directory, and its mtime in nanoseconds. */
function mtimes(root: string): Map<string, ['dir' | 'file', bigint]> {
  const out = new Map<string, ['dir' | 'file', bigint]>();
  const one = (p: string): void => {
    const st = fs.lstatSync(p, { bigint: true });
    out.set(path.relative(root, p) || '.', [st.isDirectory() ? 'dir' : 'file', st.mtimeNs]);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) one(path.join(p, n));
  };
  one(root);
  return out;
}

/** The paths an operation names (relative to the root). */
function opPaths(o: Plan['operations'][number]): string[] {
  if (o.op === 'move') return [o.from, o.to];
  if (o.op === 'zip') return [o.path, ...o.members.map((m) => m.from)];
  return o.op === 'link' ? [o.path, o.target] : [o.path];
}

async function planOf(ids: string, root: string): Promise<Plan> {
  return plan({ strategies: ids.split(','), path: root, workers: 0 });
}

function savePlan(p: Plan, file: string): string {
  fs.writeFileSync(file, JSON.stringify(p));
  return file;
}

/** Each sourceless .pyc of a tree and the file its module's code object names, as CPython reads them. */
const NAMES = `
import marshal, os, sys
root = sys.argv[1]
out = []
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if x != "__pycache__"]
    for f in files:
        if f.endswith(".pyc"):
            p = os.path.join(d, f)
            out.append("%s %s" % (os.path.relpath(p, root), marshal.loads(open(p, "rb").read()[16:]).co_filename))
print("\\n".join(sorted(out)))
`;

describe('plan and apply', () => {
  let work = '';
  let template = '';
  before(() => {
    if (py === undefined) return;
    work = fastTempDir();
    template = path.join(work, 'template');
    sourceTree(template);
    compileAllLevels(py, template);
  });
  after(() => removeTree(work));

  let round = 0;
  const fresh = (): string => {
    const d = path.join(work, `t${round++}`);
    copyTree(template, d);
    return d;
  };

  const original = (): string[] => files(template);
  const caches = (f: string) => f.includes('__pycache__/');
  const tests = (f: string) => f.startsWith('pkg/tests/');

  const expectations: Record<string, (before: string[]) => string[]> = {
    'drop-opt2': (b) => b.filter((f) => !f.endsWith('.opt-2.pyc')),
    'drop-optimized': (b) => b.filter((f) => !/\.opt-[12]\.pyc$/.test(f)),
    'strip-tests': (b) => b.filter((f) => !f.startsWith('pkg/tests/')),
    'no-bytecode': (b) => [
      ...b.filter((f) => !caches(f)),
      ...new Set(b.filter(caches).map((f) => `${path.dirname(f)}/__dont_write_bytecode__`)),
    ],
    // A test package keeps its sources (and caches): unittest discovers test*.py files.
    sourceless: (b) => [
      ...b.filter((f) => tests(f) || (!caches(f) && !f.endsWith('.py'))),
      ...b.filter((f) => !tests(f) && f.endsWith('.py')).map((f) => `${f}c`),
    ],
    pysources: (b) => [
      ...expectations.sourceless!(b),
      ...b
        .filter((f) => !tests(f) && f.endsWith('.py'))
        .map(
          (f) =>
            `${path.dirname(f) === '.' ? '' : `${path.dirname(f)}/`}__pysources__/${path.basename(f)}.gz`,
        ),
    ],
    dedup: (b) => b,
  };

  for (const [id, expected] of Object.entries(expectations)) {
    it(`${id}: the exact tree afterwards, bytes freed as planned and estimated, and a second plan is empty`, async (t) => {
      if (!have(t, py, cpython('3.13'))) return;
      const root = fresh();
      const before = files(root);
      const du0 = duBytes(root);
      const p = await planOf(id, root);
      assert.ok(p.operations.length > 0);
      assert.deepEqual(p.strategies, [id]);
      assert.notEqual(p.estimate, null);
      assert.deepEqual(p.saved, p.estimate, 'the plan frees what the catalog estimates');
      const r = await apply({ planFile: savePlan(p, path.join(work, `${id}.plan.json`)) });
      assert.equal(r.outcome, 'applied', r.failure);
      assert.deepEqual([r.freed, r.toBeFreedAtCommit], [p.saved, { apparentBytes: 0, allocatedBytes: 0 }]);
      assert.equal(r.committed, true);
      assert.ok(!fs.existsSync(path.join(root, '.pyfloppy-journal')));
      const want = expected(before).sort();
      assert.deepEqual(files(root), want);
      // The directories too: those on the way to a file that stays, and no other (one left empty goes), but
      // the root's own __pycache__, which belongs to no module and stays as sys.path directories do.
      const notRootCache = (d: string): boolean => d !== '__pycache__';
      assert.deepEqual(directories(root).filter(notRootCache), ancestors(want).filter(notRootCache));
      const du1 = duBytes(root);
      // The plan charges a new directory one block; du counts its real blocks (none on tmpfs).
      assert.equal(
        du0.allocated - du1.allocated,
        p.saved.allocatedBytes + mkdirSlack(root, p.operations),
        `${id}: du freed ${du0.allocated - du1.allocated}, planned ${p.saved.allocatedBytes}`,
      );
      const again = await planOf(id, root);
      assert.equal(again.operations.length, 0, `${id} twice: nothing left to do`);
      if (id === 'sourceless' || id === 'pysources') {
        // Each mod.pyc names its source's path (as py_compile would), not the template it was compiled in.
        const named = runPython(py, NAMES, [root]).trim().split('\n');
        const pycs = want.filter((f) => f.endsWith('.pyc') && !f.includes('__pycache__'));
        assert.ok(pycs.length > 3);
        assert.deepEqual(
          named,
          pycs.map((f) => `${f} ${path.join(fs.realpathSync(root), f.slice(0, -1))}`),
        );
      }
      if (id === 'pysources') {
        const gz = zlib
          .gunzipSync(fs.readFileSync(path.join(root, 'pkg/__pysources__/core.py.gz')))
          .toString();
        assert.equal(gz, fs.readFileSync(path.join(template, 'pkg/core.py'), 'utf8'));
      }
      if (id === 'dedup') {
        // compileall's rule: each level present with the previous one, when byte-identical.
        const snap = snapshot(root);
        for (const f of before.filter((x) => x.endsWith(`.${TAG}.pyc`))) {
          const l1 = f.replace('.pyc', '.opt-1.pyc');
          const l2 = f.replace('.pyc', '.opt-2.pyc');
          const same = (a: string, b: string) => snap.get(a)!.sha256 === snap.get(b)!.sha256;
          assert.equal(snap.get(f)!.ino === snap.get(l1)!.ino, same(f, l1), f);
          assert.equal(snap.get(l1)!.ino === snap.get(l2)!.ino, same(l1, l2), l1);
        }
        assert.ok(p.counts.link > 0);
      }
      if (id === 'sourceless' || id === 'pysources') {
        const r2 = spawnSync(
          py.exe,
          [
            '-I',
            '-c',
            'import sys; sys.path.insert(0, sys.argv[1]); import mod, pkg.core, pkg.sub.leaf; print(pkg.core.__file__)',
            root,
          ],
          { encoding: 'utf8' },
        );
        assert.equal(r2.status, 0, r2.stderr);
        assert.equal(r2.stdout.trim(), path.join(root, 'pkg/core.pyc'));
      }
    });
  }

  it('sourceless with dest: the bytecode names where Python will run the tree, not where it is now', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = fresh();
    const dest = '/usr/lib/python3.13';
    await assert.rejects(
      plan({ strategies: ['sourceless'], path: root, workers: 0, dest: 'usr/lib' }),
      /not an absolute path/,
    );
    const p = await plan({ strategies: ['sourceless'], path: root, workers: 0, dest: `${dest}/` });
    const r = await apply({ planFile: savePlan(p, path.join(work, 'dest.plan.json')) });
    assert.equal(r.outcome, 'applied', r.failure);
    const named = runPython(py, NAMES, [root]).trim().split('\n');
    const pycs = files(root).filter((f) => f.endsWith('.pyc') && !f.includes('__pycache__'));
    assert.ok(pycs.length > 3);
    assert.deepEqual(
      named,
      pycs.map((f) => `${f} ${dest}/${f.slice(0, -1)}`),
    );
  });

  it("sourceless,dedup compose: only the caches sourceless leaves (a test package's) are linked", async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = fresh();
    const p = await planOf('sourceless,dedup', root);
    assert.deepEqual(p.strategies, ['sourceless', 'dedup']);
    const links = p.operations.filter((o) => o.op === 'link');
    assert.ok(links.length > 0);
    assert.deepEqual(
      links.filter((o) => !tests(o.path)),
      [],
    );
    const r = await apply({ planFile: savePlan(p, path.join(work, 'sd.json')) });
    assert.equal(r.outcome, 'applied');
    assert.deepEqual(files(root), expectations.sourceless!(original()).sort());
  });

  it('refuses, naming the file, when a file changed after the plan; nothing is changed', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = fresh();
    const p = await planOf('sourceless', root);
    const file = savePlan(p, path.join(work, 'changed.json'));
    fs.appendFileSync(path.join(root, 'pkg/core.py'), '# edited\n');
    const before = snapshot(root);
    const r = runCli(['apply', file]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /refused, nothing changed/);
    assert.match(r.stdout, /pkg\/core\.py: size/);
    assert.deepEqual(snapshot(root), before);
    assert.ok(!fs.existsSync(path.join(root, '.pyfloppy-journal')));
  });

  it('refuses when a name it would create exists, or a directory became a symlink', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = fresh();
    const p = await planOf('sourceless', root);
    fs.writeFileSync(path.join(root, 'mod.pyc'), 'somebody else');
    const r = await apply({ planFile: savePlan(p, path.join(work, 'inway.json')) });
    assert.equal(r.outcome, 'refused');
    assert.deepEqual(r.mismatches, [{ path: 'mod.pyc', why: 'exists (the plan creates it)' }]);

    const root2 = fresh();
    const p2 = await planOf('drop-opt2', root2);
    const outside = path.join(work, 'outside');
    fs.renameSync(path.join(root2, 'pkg/sub'), outside);
    fs.symlinkSync(outside, path.join(root2, 'pkg/sub'));
    const before = snapshot(outside);
    const r2 = await apply({ planFile: savePlan(p2, path.join(work, 'symlink.json')) });
    assert.equal(r2.outcome, 'refused');
    assert.ok(r2.mismatches.some((m) => m.path.startsWith('pkg/sub/__pycache__/') && /symlink/.test(m.why)));
    assert.deepEqual(snapshot(outside), before);
  });

  it('a failure mid-run (EIO on the 5th rename) rolls every earlier step back', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = fresh();
    const before = snapshot(root);
    const beforeDirs = directories(root);
    const p = await planOf('pysources', root);
    let renames = 0;
    const calls: JournalCalls = {
      ...realJournalCalls,
      rename: (a, b) => {
        // A rename into the journal: its backups are named by the operation's number (the journal's
        // directory is reached through /proc/self/fd, so its name is not in the path).
        if (/\/\d+$/.test(String(b)) && ++renames === 5)
          throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
        realJournalCalls.rename(a, b);
      },
    };
    const r = await apply({ planFile: savePlan(p, path.join(work, 'eio.json')), calls });
    assert.equal(r.outcome, 'rolled-back');
    assert.match(r.failure ?? '', /injected/);
    assert.deepEqual(snapshot(root), before, 'every path, inode and content as before');
    assert.deepEqual(directories(root), beforeDirs);
  });

  it('a file dropped into a directory the plan removes: that step refuses and the run rolls back', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = fresh();
    const p = await planOf('sourceless', root);
    fs.writeFileSync(path.join(root, 'pkg/sub/__pycache__/notes.txt'), 'mine');
    const before = snapshot(root);
    const r = await apply({ planFile: savePlan(p, path.join(work, 'dropped.json')) });
    assert.equal(r.outcome, 'rolled-back');
    assert.match(r.failure ?? '', /pkg\/sub\/__pycache__: not empty/);
    assert.deepEqual(snapshot(root), before);
  });

  it('--no-commit keeps the journal; --rollback then restores every path and inode; --commit deletes it', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = fresh();
    const before = snapshot(root);
    const beforeDirs = directories(root);
    const mtimes0 = mtimes(root);
    const p1 = await planOf('strip-tests,pysources', root);
    const file = savePlan(p1, path.join(work, 'nocommit.json'));
    const r = runCli(['apply', file, '--no-commit']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /journal kept/);
    // The journal still holds every removed file: nothing is freed before the commit.
    assert.match(r.stdout, /; -?[\d.]+ \S+ on disk \(-?[\d.]+ \S+ apparent\) to be freed at commit$/m);
    assert.doesNotMatch(r.stdout, /\bfreed [\d.]/);
    assert.ok(fs.existsSync(path.join(root, '.pyfloppy-journal/plan.json')));
    const rb = runCli(['apply', '--rollback', file]);
    assert.equal(rb.status, 0, rb.stderr);
    assert.deepEqual(snapshot(root), before);
    assert.deepEqual(directories(root), beforeDirs);
    // As the README says: every file keeps its mtime; a directory's mtime is new only where the run
    // changed its names (the root: the journal and the lock; the directories of the plan's paths).
    const touched = new Set([
      '.',
      ...ancestors(p1.operations.flatMap(opPaths)),
      ...p1.operations.flatMap(opPaths),
    ]);
    const mtimes1 = mtimes(root);
    for (const [rel, [kind, ns]] of mtimes0) {
      if (kind === 'file') assert.equal(mtimes1.get(rel)?.[1], ns, `${rel}: mtime restored`);
      else if (!touched.has(rel)) assert.equal(mtimes1.get(rel)?.[1], ns, `${rel}: untouched directory`);
    }

    // After a rollback the restored files have new ctimes: the plan is refused, a new one applies.
    const stale = runCli(['apply', file, '--no-commit']);
    assert.equal(stale.status, 1, stale.stderr);
    assert.match(stale.stdout, /: refused, nothing changed: [\d,]+ files differ from the plan$/m);
    // Each line names a restored file and why: renamed back from the journal, only its ctime is new.
    const why = stale.stdout.split('\n').filter((l) => l.startsWith('  '));
    assert.ok(why.length > 0);
    for (const l of why) assert.match(l, /^ {2}(\S+: changed \(ctime\)|\.\.\. and [\d,]+ more)$/, l);
    const p2 = await planOf('strip-tests,pysources', root);
    const file2 = savePlan(p2, path.join(work, 'nocommit2.json'));
    const kept = runCli(['apply', file2, '--no-commit', '--json']);
    assert.equal(kept.status, 0, kept.stderr);
    const none = { apparentBytes: 0, allocatedBytes: 0 };
    const json = JSON.parse(kept.stdout) as {
      committed: boolean;
      freed: unknown;
      toBeFreedAtCommit: unknown;
    };
    assert.deepEqual([json.committed, json.freed, json.toBeFreedAtCommit], [false, none, p2.saved]);
    const c = runCli(['apply', '--commit', root]);
    assert.equal(c.status, 0, c.stderr);
    assert.ok(!fs.existsSync(path.join(root, '.pyfloppy-journal')));
    assert.deepEqual(files(root), expectations.pysources!(expectations['strip-tests']!(original())).sort());
  });

  it('apply --verify: a plan that breaks an import is rolled back, the regression named', async (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = fresh();
    const before = snapshot(root);
    const p = await planOf('drop-opt2', root);
    // A reviewer's edit gone wrong: pkg/sub/leaf.py and its caches removed too.
    const extra = await planOf('sourceless', root);
    p.operations.push(
      ...extra.operations.filter(
        (o) => o.op === 'remove' && o.path.includes('leaf') && !o.path.endsWith('opt-2.pyc'),
      ),
    );
    const file = savePlan(p, path.join(work, 'breaks.json'));
    const r = runCli(['apply', file, '--verify', '--python', py.exe, '--json']);
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout) as {
      outcome: string;
      verify: { regressions: Array<{ module: string; kind: string; level: number }> };
    };
    assert.equal(report.outcome, 'rolled-back');
    assert.deepEqual(report.verify.regressions.map((g) => `${g.level} ${g.kind} ${g.module}`).sort(), [
      '0 missing pkg.sub.leaf',
      '1 missing pkg.sub.leaf',
      '2 missing pkg.sub.leaf',
    ]);
    assert.deepEqual(snapshot(root), before);
    const ok = runCli([
      'apply',
      savePlan(await planOf('drop-opt2', root), path.join(work, 'fine.json')),
      '--verify',
      '--python',
      py.exe,
    ]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /regressions: 0/);
  });

  it('CLI: plan -o writes a reviewable plan; --dry-run checks it; usage errors exit 2', (t) => {
    if (!have(t, py, cpython('3.13'))) return;
    const root = fresh();
    const file = path.join(work, 'cli.json');
    const r = runCli(['plan', 'drop-opt2+dedup,zip-stdlib', root, '-o', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /operations \(remove \d+, link \d+\)/);
    assert.match(r.stdout, /not planned: zip-stdlib: needs a stdlib root/);
    const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Plan;
    assert.equal(p.schema, 'pyfloppy.plan/1');
    assert.ok(p.operations.every((o) => o.op === 'remove' || o.op === 'link'));
    const before = snapshot(root);
    const beforeMeta = metadata(root);
    const dry = runCli(['apply', file, '--dry-run']);
    assert.equal(dry.status, 0);
    assert.match(dry.stdout, new RegExp(`dry run\\): all ${p.operations.length} operations match the tree`));
    // Nothing changed: every path, inode, size, mtime, ctime, mode and link count, directories included
    // (a lock or journal made and removed again shows in the root's mtime).
    assert.deepEqual(metadata(root), beforeMeta);
    const bad = runCli(['plan', 'frobnicate', root]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown strategy 'frobnicate'/);
    const refused = (args: string[], message: RegExp): void => {
      const r = runCli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    };
    refused(
      ['plan', 'sourceless,no-bytecode', root],
      /^pyfloppy: error: no-bytecode and sourceless cannot be combined: one ships only sources, the other only bytecode$/m,
    );
    refused(
      ['plan', 'sourceless', path.join(work, 'missing')],
      /^pyfloppy: error: .*\/missing: no such directory$/m,
    );
    const notPlan = path.join(work, 'not-a-plan.json');
    fs.writeFileSync(notPlan, '{"schema":"other"}');
    refused(
      ['apply', notPlan],
      /^pyfloppy: error: .*not-a-plan\.json: not a pyfloppy plan \(schema other\)$/m,
    );
    refused(
      ['apply', path.join(work, 'nope.json')],
      /^pyfloppy: error: cannot read .*nope\.json: no such file$/m,
    );
    assert.deepEqual(snapshot(root), before, 'no refusal changed the tree');
  });
});
