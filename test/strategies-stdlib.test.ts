/**
 * Every plannable strategy carried out on copies of the real 3.8, 3.11 and 3.13 stdlibs (where installed)
 * with `apply --verify`: no module that imported before fails after, at levels 0, 1 and 2; no write
 * attempt at the levels the layout ships bytecode for; du's bytes freed equal the plan's and the catalog's
 * estimate (with the zip layouts' pythonXY.zip counted). no-bytecode and pysources install pyfloppy's
 * runtime: no write attempt at any level for the first, source lines kept for the second.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apply, planRegressions } from '../src/apply/apply.js';
import { type Plan, plan } from '../src/plan/plan.js';
import { RUNTIME_MODULES } from '../src/python/runtime-modules.js';
import { verify, type VerifyReport } from '../src/verify/verify.js';
import { have } from './helpers/need.js';
import { type Interpreter, interpreter, stdlibOf, cpython } from './helpers/python.js';
import { copyTree, duBytes, emptyDirectories, fastTempDir, mkdirSlack, removeTree } from './helpers/tree.js';

/** Left out of the copies to keep the runs short (and tkinter/idlelib need a display anyway). */
const LEAVE_OUT = ['test', 'idlelib', 'tkinter', 'turtledemo', 'lib2to3', 'site-packages', 'ensurepip'];

/**
 * The layouts that move bytecode away from its source (sourceless, pysources, the zip layouts): every
 * module still imports, and the bytecode is relocated to name the source where it was (or its place in the
 * archive: then lines and getsource hold); sourceless loses source lines and getsource (pysources keeps
 * them: the runtime reads `__pysources__`). Test modules there are sourceless: unittest's discovery does
 * not find them. verify sees it, so `apply --verify` would roll them back.
 */
const LOSES_SOURCE = new Set(['sourceless', 'pysources', 'zip-data', 'zip-stdlib']);

const STRATEGIES = [
  'drop-opt2',
  'drop-optimized',
  'strip-tests',
  'dedup',
  'sourceless',
  'pysources',
  'no-bytecode',
  'zip-data',
  'zip-stdlib',
];

/** apply --verify: no regression at all. */
async function applyVerified(file: string, py: Interpreter, baseline: VerifyReport): Promise<VerifyReport> {
  const r = await apply({ planFile: file, verify: { python: py.exe, baseline } });
  assert.equal(
    r.outcome,
    'applied',
    `${r.failure ?? ''} ${JSON.stringify(r.verify?.regressions.slice(0, 5))}`,
  );
  assert.deepEqual(r.verify?.regressions, []);
  return r.verify.after!;
}

/** apply, then verify: every module still imports; what is lost is source lines, __file__ and getsource. */
async function applyLosingSource(
  p: Plan,
  file: string,
  root: string,
  py: Interpreter,
  version: string,
  baseline: VerifyReport,
): Promise<VerifyReport> {
  const r = await apply({ planFile: file });
  assert.equal(r.outcome, 'applied', r.failure);
  const after = await verify({ path: root, python: py.exe });
  let found = planRegressions(p, baseline, after);
  // linecache before 3.13 asks the loader for module_globals['__name__'], which _pydecimal sets to
  // 'decimal': zipimport then hands it decimal.py's source (3.13 asks for __spec__.name).
  const zipped = p.strategies.some((s) => s.startsWith('zip-'));
  if (zipped && version !== '3.13') {
    const pydecimal = (g: (typeof found)[number]): boolean =>
      g.kind === 'behaviour' && g.check === 'lines' && g.module === '_pydecimal';
    assert.equal(found.filter(pydecimal).length, p.strategies.includes('zip-stdlib') ? 3 : 0);
    found = found.filter((g) => !pydecimal(g));
  }
  const kinds = new Set(found.map((g) => (g.kind === 'behaviour' ? g.check : g.kind)));
  // And test packages of the stdlib (ctypes.test, unittest.test before 3.12) in the archive are no longer
  // discoverable (sourceless and pysources leave test packages with their sources).
  const tests = p.strategies.includes('zip-stdlib') && version !== '3.13' ? ['tests'] : [];
  // zipimport's get_source reads the archived source, the runtime __pysources__: lines and getsource hold.
  const keepsLines = zipped || p.strategies.includes('pysources');
  assert.deepEqual(
    [...kinds].sort(),
    keepsLines ? tests : ['getsource', 'lines', ...tests],
    JSON.stringify(found.slice(0, 5)),
  );
  for (const l of after.levels) {
    const b = baseline.levels.find((x) => x.level === l.level)!;
    // The runtime's modules (pysources) are new ones.
    const ok = l.okModules.filter((m) => !(RUNTIME_MODULES as readonly string[]).includes(m));
    assert.deepEqual(ok, b.okModules, `level ${l.level}: every module still imports`);
  }
  return after;
}

for (const version of ['3.8', '3.11', '3.13']) {
  const py: Interpreter | undefined = interpreter(version);
  describe(`strategies on a copy of the ${version} stdlib, verified`, () => {
    let work = '';
    let template = '';
    let baseline: VerifyReport;
    before(async () => {
      if (py === undefined) return;
      work = fastTempDir();
      // PYTHONHOME is work/<prefix>; the stdlib lives at lib/pythonX.Y below it, as installed.
      template = path.join(work, 'template', 'lib', `python${version}`);
      fs.mkdirSync(path.dirname(template), { recursive: true });
      copyTree(stdlibOf(py), template, {
        exclude: [...LEAVE_OUT, ...fs.readdirSync(stdlibOf(py)).filter((n) => n.startsWith('config-'))],
      });
      baseline = await verify({ path: template, python: py.exe });
      assert.equal(baseline.mode, 'stdlib');
      for (const l of baseline.levels)
        assert.equal(l.writes.length, 0, `level ${l.level}: the copy is fully compiled`);
    });
    after(() => removeTree(work));

    let n = 0;
    for (const id of STRATEGIES) {
      const what = LOSES_SOURCE.has(id) ? 'imports hold, source lines lost' : 'no regression';
      it(`${id}: ${what} at levels 0-2, bytes freed as estimated`, async (t) => {
        if (!have(t, py, cpython(version))) return;
        const prefix = path.join(work, `c${n++}`);
        const root = path.join(prefix, 'lib', `python${version}`);
        fs.mkdirSync(path.dirname(root), { recursive: true });
        copyTree(template, root);
        // The test package is left out of the template (importing it takes long); strip-tests gets it back.
        if (id === 'strip-tests')
          fs.cpSync(path.join(stdlibOf(py), 'test'), path.join(root, 'test'), {
            recursive: true,
            preserveTimestamps: true,
            verbatimSymlinks: true,
          });
        const du0 = duBytes(root);
        const emptyBefore = emptyDirectories(root);
        const p = await plan({ strategies: [id], path: root, workers: 0, python: py.exe });
        assert.ok(p.operations.length > 0, `${id} has something to do on the ${version} stdlib`);
        assert.deepEqual(p.saved, p.estimate, 'planned = estimated');
        const file = path.join(work, `${id}.json`);
        fs.writeFileSync(file, JSON.stringify(p));
        const afterReport = LOSES_SOURCE.has(id)
          ? await applyLosingSource(p, file, root, py, version, baseline)
          : await applyVerified(file, py, baseline);
        assert.deepEqual(
          afterReport.levels.map((l) => l.level),
          [0, 1, 2],
        );
        for (const l of afterReport.levels) {
          const shipped = p.shippedLevels.includes(l.level);
          if (shipped) assert.equal(l.writes.length, 0, `level ${l.level} is shipped: no write attempt`);
          // The runtime honours __dont_write_bytecode__: no module tries to write, at any level.
          if (id === 'no-bytecode') assert.deepEqual(l.writes, [], `level ${l.level}`);
          if (id === 'pysources') {
            const b = baseline.levels.find((x) => x.level === l.level)!;
            // Each module shows its lines as before, and the runtime's two modules theirs.
            assert.equal(
              l.withSource,
              b.withSource + RUNTIME_MODULES.length,
              `level ${l.level}: the runtime reads __pysources__`,
            );
          }
          if (id === 'sourceless') {
            // Only the stdlib sources the layout keeps, each with its reason in the notes (frozen ones, as
            // os and abc from 3.11, show lines from no file at all).
            const kept = p.notes.filter((n) => n.includes(' keeps its source: ')).map((n) => n.split(' ')[0]);
            const expected = ['os.py', 'linecache.py', 'importlib/__init__.py'];
            if (version !== '3.8') expected.push('importlib/resources/_common.py');
            for (const f of expected) assert.ok(kept.includes(f), f);
            // And the modules of test packages (unittest.test before 3.12), left whole for discovery.
            const inTests = Number(/^(\d+) modules of test packages/m.exec(p.notes.join('\n'))?.[1] ?? 0);
            assert.ok(
              l.withSource > 0 && l.withSource <= kept.length + inTests,
              `no source for tracebacks but the kept ones: ${l.withSource} > ${kept.length} + ${inTests}`,
            );
          }
          if (id.startsWith('zip-')) {
            // The archive keeps the sources and the archived caches are relocated to name them: a
            // traceback gets its lines from zipimport's get_source (_pydecimal before 3.13 aside: see above).
            const b = baseline.levels.find((x) => x.level === l.level)!;
            assert.equal(l.withSource, b.withSource);
            assert.equal(l.ok, b.ok);
            const lost = l.checks!.lines.failed.filter((m) => !b.checks!.lines.failed.includes(m));
            assert.deepEqual(lost, version !== '3.13' && id === 'zip-stdlib' ? ['_pydecimal'] : []);
          }
        }
        const archive = path.join(prefix, 'lib', `python${version.replace('.', '')}.zip`);
        if (id.startsWith('zip-')) {
          assert.equal(afterReport.entries[0], archive, 'the archive comes first on sys.path');
          // Where the modules now come from, as the interpreter sees them.
          const where = spawnSync(
            py.exe,
            ['-s', '-c', 'import encodings, json; print(encodings.__file__); print(json.__file__)'],
            { encoding: 'utf8', env: { PYTHONHOME: prefix, LANG: 'C.UTF-8' } },
          );
          const [enc, json] = where.stdout.trim().split('\n');
          assert.equal(enc, path.join(archive, 'encodings', '__init__.pyc'));
          assert.equal(
            json,
            id === 'zip-stdlib'
              ? path.join(archive, 'json', '__init__.pyc')
              : path.join(root, 'json', '__init__.py'),
          );
        }
        if (id.startsWith('zip-')) {
          // Installed this way (the interpreter in PREFIX/bin, no PYTHONHOME), getpath must still find
          // the prefix: 3.8-3.10 look for lib/pythonX.Y/os.py on disk.
          const bin = path.join(prefix, 'bin', path.basename(py.exe));
          fs.mkdirSync(path.dirname(bin), { recursive: true });
          fs.copyFileSync(py.exe, bin);
          fs.chmodSync(bin, 0o755);
          const own = spawnSync(bin, ['-c', 'import sys; print(sys.prefix)'], {
            encoding: 'utf8',
            env: {},
          });
          assert.equal(own.stdout.trim(), prefix, own.stderr);
          assert.equal(own.stderr, '');
        }
        const du1 = id.startsWith('zip-') ? duBytes(root, archive) : duBytes(root);
        // The plan charges a new directory one block; du counts its real blocks (none on tmpfs).
        assert.equal(
          du0.allocated - du1.allocated,
          p.saved.allocatedBytes + mkdirSlack(root, p.operations),
          `du freed ${du0.allocated - du1.allocated}, planned ${p.saved.allocatedBytes}`,
        );
        // No directory left empty: the only empty ones are those that were empty before (and still are), and
        // the root's own __pycache__, which belongs to no module and stays as sys.path directories do.
        assert.deepEqual(
          emptyDirectories(root).filter((d) => d !== '__pycache__'),
          emptyBefore.filter((d) => fs.existsSync(path.join(root, d))),
        );
        removeTree(prefix);
      });
    }
  });
}
