/**
 * Crash safety of apply: killed with SIGKILL at random moments, `apply --rollback` returns the tree to its
 * original paths, inodes and bytes, and running the same plan again finishes it exactly as an uninterrupted
 * run does. Three plans between them use every operation: strip-tests,pysources (remove, mkdir, write, move,
 * rmdir), dedup (link) and zip-stdlib (zip, whose archive lies beside the root, in PREFIX/lib).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { plan } from '../src/plan/plan.js';
import { relocatePyc } from '../src/python/relocate.js';
import { BIN, runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { compileAllLevels, interpreter, cpython, runPython } from './helpers/python.js';
import { copyTree, fastTempDir, type FileState, removeTree, snapshot, writeTree } from './helpers/tree.js';

const py = interpreter('3.13');
const ROUNDS = 10;

/**
 * A tree of packages compiled at levels 0-2 by CPython 3.13 (a quarter with docstrings: level 2 differs),
 * shaped as a stdlib (os.py at the top) so that zip-stdlib applies to it.
 */
function template(root: string): void {
  const files: Record<string, string> = { 'os.py': 'SEP = "/"\n' };
  for (let m = 0; m < 400; m++) {
    const dir = `p${m % 20}${m % 3 === 0 ? '/tests' : ''}`;
    files[`${dir}/__init__.py`] = '';
    files[`${dir}/m${m}.py`] = `${m % 4 === 0 ? '"""Doc."""\n' : ''}x = ${m}\n`;
  }
  writeTree(root, files);
  compileAllLevels(py!, root);
}

/** The archive zip-stdlib writes beside a root at PREFIX/lib/python3.13. */
const ARCHIVE = '../python313.zip';

/** Paths with content and inode, and the directories: what "the same tree" means here. */
function state(root: string, inodes: boolean): { files: Map<string, Partial<FileState>>; dirs: string[] } {
  const files = new Map<string, Partial<FileState>>();
  for (const [p, s] of snapshot(root))
    files.set(
      p,
      inodes ? { ino: s.ino, sha256: s.sha256, mode: s.mode } : { sha256: s.sha256, nlink: s.nlink },
    );
  const archive = path.join(root, ARCHIVE);
  if (fs.existsSync(archive)) files.set(ARCHIVE, { sha256: fs.readFileSync(archive).toString('base64') });
  const dirs: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) {
        dirs.push(path.relative(root, path.join(d, e.name)));
        walk(path.join(d, e.name));
      }
  };
  walk(root);
  return { files, dirs: dirs.sort() };
}

/** What a user sees of a tree: its state without pyfloppy's own journal and lock. */
function userView(s: ReturnType<typeof state>): ReturnType<typeof state> {
  const ours = (rel: string): boolean => rel.startsWith('.pyfloppy-');
  return { files: new Map([...s.files].filter(([rel]) => !ours(rel))), dirs: s.dirs.filter((d) => !ours(d)) };
}

/** The members of a zip archive as CPython's zipfile reads them: name -> SHA-256 of the bytes. */
function zipMembers(archive: string): Map<string, string> {
  const out = runPython(
    py!,
    'import hashlib, json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(json.dumps({n: hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist()}))',
    [archive],
  );
  return new Map(Object.entries(JSON.parse(out) as Record<string, string>));
}

/**
 * Run apply and SIGKILL it: `ms` after it starts, or (with `journal`) `ms` after its journal appears, so
 * that most kills land among the operations rather than in the start-up of Node. Resolves with the exit
 * code (null when killed) and the time from the journal's appearance to the exit.
 */
function killAfter(
  args: string[],
  ms: number,
  journal?: string,
): Promise<{ code: number | null; opsMs: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    let seen = 0;
    let timer: NodeJS.Timeout | undefined;
    const poll =
      journal === undefined
        ? undefined
        : setInterval(() => {
            if (seen === 0 && fs.existsSync(journal)) {
              seen = Date.now();
              if (Number.isFinite(ms)) timer = setTimeout(() => child.kill('SIGKILL'), ms);
            }
          }, 1);
    if (journal === undefined) timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ code, opsMs: seen === 0 ? 0 : Date.now() - seen });
    });
  });
}

// Every copy planned for one place: relocated bytecode names it, so the bytes do not depend on the copy.
const DEST = '/usr/lib/python3.13';

for (const strategies of ['strip-tests,pysources', 'dedup', 'zip-stdlib']) {
  describe(`apply ${strategies} killed with SIGKILL`, () => {
    it(`at ${ROUNDS} random moments: --rollback restores the original, apply again finishes it`, async (t) => {
      if (!have(t, py, cpython('3.13'))) return;
      const work = fastTempDir();
      try {
        // Every tree at NAME/lib/python3.13, where a stdlib lives, its archive beside it.
        const at = (name: string): string => {
          const d = path.join(work, name, 'lib', 'python3.13');
          fs.mkdirSync(path.dirname(d), { recursive: true });
          return d;
        };
        const tpl = at('template');
        template(tpl);
        const original = state(tpl, false);
        // An uninterrupted run: its result, and how long it takes (kills are spread over that span).
        const probe = at('probe');
        copyTree(tpl, probe);
        const probePlan = path.join(work, 'probe.json');
        fs.writeFileSync(
          probePlan,
          JSON.stringify(
            await plan({
              strategies: strategies.split(','),
              path: probe,
              workers: 0,
              python: py.exe,
              dest: DEST,
            }),
          ),
        );
        // How long the operations take once the journal exists: kills are spread over that span.
        const probeRun = await killAfter(
          ['apply', probePlan],
          Infinity,
          path.join(probe, '.pyfloppy-journal'),
        );
        assert.equal(probeRun.code, 0);
        const span = Math.max(probeRun.opsMs, 5);
        const finished = state(probe, false);
        assert.notDeepEqual(finished, original);
        // The uninterrupted run checked against the strategies' own rules, not only against itself.
        const before = [...original.files.keys()];
        const after = [...finished.files.keys()].filter((rel) => rel !== ARCHIVE).sort();
        if (strategies === 'dedup') {
          assert.deepEqual(after, before.sort());
          // compileall's rule: a level linked to the one below when their bytes are the same.
          for (const rel of before.filter((r) => /\.cpython-313\.pyc$/.test(r))) {
            const [l0, l1, l2] = ['', '.opt-1', '.opt-2'].map((l) => rel.replace('.pyc', `${l}.pyc`));
            const sha = (r: string) => original.files.get(r)!.sha256;
            const links = (r: string) => finished.files.get(r)!.nlink ?? 0;
            assert.equal(links(l1!) > 1, sha(l0!) === sha(l1!) || sha(l1!) === sha(l2!), l1);
          }
        }
        if (strategies === 'strip-tests,pysources') {
          // os.py keeps its source and caches: a stdlib's sourceless layout keeps it (getpath, messages).
          const os = (r: string): boolean => r === 'os.py' || r.startsWith('__pycache__/os.');
          const kept = before.filter((r) => !/(^|\/)tests\//.test(r) && !os(r));
          const want = [
            ...before.filter(os),
            ...kept.filter((r) => !r.includes('__pycache__/') && !r.endsWith('.py')),
            ...kept.filter((r) => r.endsWith('.py')).map((r) => `${r}c`),
            ...kept
              .filter((r) => r.endsWith('.py'))
              .map((r) => path.join(path.dirname(r), '__pysources__', `${path.basename(r)}.gz`)),
            // pyfloppy's runtime, which reads __pysources__.
            ...['_pyfloppy_runtime', 'sitecustomize'].flatMap((m) => [
              `${m}.py`,
              ...['', '.opt-1', '.opt-2'].map((l) => `__pycache__/${m}.cpython-313${l}.pyc`),
            ]),
            'site-packages/_pyfloppy_runtime.pth',
            'site-packages/_pyfloppy_runtime.start',
          ];
          assert.deepEqual(after, want.sort());
        }
        if (strategies === 'zip-stdlib') {
          // What left the disk is in the archive, as CPython reads it: each source with its bytes, as
          // NAME.pyc its level-0 cache's bytes; its caches went with it; nothing else changed.
          const gone = before.filter((r) => !finished.files.has(r));
          const sources = gone.filter((r) => r.endsWith('.py'));
          assert.ok(sources.length > 0);
          const cacheOf = (r: string): string =>
            path.join(path.dirname(r), '__pycache__', path.basename(r).replace(/\.py$/, '.cpython-313.pyc'));
          const members = zipMembers(path.join(probe, ARCHIVE));
          const sha = (r: string) => original.files.get(r)!.sha256;
          assert.deepEqual([...members.keys()].sort(), sources.flatMap((r) => [r, `${r}c`]).sort());
          // The cache relocated to name its place in the archive where Python will run the tree.
          const relocated = (r: string): string =>
            crypto
              .createHash('sha256')
              .update(relocatePyc(fs.readFileSync(path.join(tpl, cacheOf(r))), path.join(DEST, ARCHIVE, r)))
              .digest('hex');
          for (const r of sources) {
            assert.equal(members.get(r), sha(r), r);
            assert.equal(members.get(`${r}c`), relocated(r), `${r}c`);
          }
          const stem = (r: string): string =>
            path.join(path.dirname(path.dirname(r)), path.basename(r).split('.')[0]!);
          for (const r of gone.filter((x) => !x.endsWith('.py')))
            assert.ok(
              r.includes('__pycache__/') && sources.includes(`${stem(r)}.py`),
              `${r} went with no source`,
            );
          for (const r of after) assert.deepEqual(finished.files.get(r), original.files.get(r), r);
        }
        let midway = 0;
        for (let round = 0; round < ROUNDS; round++) {
          const tree = at(`round${round}`);
          copyTree(tpl, tree);
          const before = state(tree, true);
          const untouched = state(tree, false);
          const file = path.join(work, `round${round}.json`);
          fs.writeFileSync(
            file,
            JSON.stringify(
              await plan({
                strategies: strategies.split(','),
                path: tree,
                workers: 0,
                python: py.exe,
                dest: DEST,
              }),
            ),
          );
          // Most kills among the operations (the first 70 % of the span: its end is the commit, the lock's
          // release and the process's exit); every fourth at any moment from the start.
          const { code } =
            round % 4 === 3
              ? await killAfter(['apply', file], Math.floor(Math.random() * (span + 400)))
              : await killAfter(
                  ['apply', file],
                  Math.floor(Math.random() * span * 0.7),
                  path.join(tree, '.pyfloppy-journal'),
                );
          const journal = fs.existsSync(path.join(tree, '.pyfloppy-journal'));
          // Midway: killed with the tree neither as before nor as finished (an operation had begun).
          const atKill = userView(state(tree, false));
          if (code === null && !isDeepStrictEqual(atKill, untouched) && !isDeepStrictEqual(atKill, finished))
            midway++;
          const committing = fs.existsSync(path.join(tree, '.pyfloppy-journal/committing'));
          if (round % 2 === 0) {
            const rb = runCli(['apply', '--rollback', file]);
            if (committing) {
              // Killed while deleting the journal: past the point of no return, it can only be finished.
              assert.equal(rb.status, 2, rb.stdout + rb.stderr);
              assert.equal(runCli(['apply', '--commit', file]).status, 0);
              assert.deepEqual(state(tree, false), finished);
            } else {
              assert.equal(rb.status, 0, rb.stdout + rb.stderr);
              const now = state(tree, true);
              const isBefore = isDeepStrictEqual(now, before);
              // Killed before the journal existed, or after the commit: untouched, or finished.
              if (!journal && !isBefore) assert.deepEqual(state(tree, false), finished, `round ${round}`);
              else assert.deepEqual(now, before, `round ${round}: rolled back exactly`);
            }
          } else if (!journal && isDeepStrictEqual(state(tree, false), finished)) {
            // Killed after the commit: done; the plan no longer matches the tree and is refused unchanged.
            assert.equal(runCli(['apply', file]).status, 1);
            assert.deepEqual(state(tree, false), finished);
          } else {
            const again = runCli(['apply', file]);
            assert.equal(again.status, 0, `round ${round}: ${again.stdout}${again.stderr}`);
            assert.deepEqual(
              state(tree, false),
              finished,
              `round ${round}: finished as an uninterrupted run`,
            );
          }
          assert.ok(!fs.existsSync(path.join(tree, '.pyfloppy-journal')));
          removeTree(path.join(work, `round${round}`));
        }
        // Most kills caught a run among its operations (not only before the first or after the last).
        assert.ok(midway >= ROUNDS / 2, `only ${midway} of ${ROUNDS} kills landed among the operations`);
      } finally {
        removeTree(work);
      }
    });
  });
}
