import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PyfloppyError } from '../src/errors.js';
import { LazyPool } from '../src/scan/pool.js';
import { READ_HINT, resolveRoots, scan } from '../src/scan/scan.js';
import { EntryTable, TYPE_DIR, TYPE_FILE, TYPE_SYMLINK } from '../src/scan/table.js';
import { have } from './helpers/need.js';
import { duBytes, removeTree, tempDir, writeTree } from './helpers/tree.js';

describe('scan', () => {
  let root: string;
  let outside: string;
  before(() => {
    root = tempDir();
    outside = tempDir();
    writeTree(root, {
      'a.py': 'x = 1\n',
      'empty.py': '',
      'pkg/__init__.py': '',
      'pkg/big.txt': 'y'.repeat(100_000),
      'pkg/__pycache__/mod.cpython-313.pyc': 'z'.repeat(5000),
    });
    writeTree(outside, { 'secret.txt': 's'.repeat(50_000), 'sub/deep.py': 'q = 2\n' });
    fs.linkSync(path.join(root, 'pkg/big.txt'), path.join(root, 'big-link.txt'));
    fs.symlinkSync(outside, path.join(root, 'link-to-outside'));
    fs.symlinkSync('a.py', path.join(root, 'link-to-a.py'));
    fs.symlinkSync('missing', path.join(root, 'dangling'));
    // A name that is not UTF-8.
    fs.writeFileSync(
      Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x66, 0xff, 0x2e, 0x70, 0x79])]),
      'bad = 1\n',
    );
    fs.mkdirSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0xe9, 0x64])]));
    fs.writeFileSync(
      Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0xe9, 0x64]), Buffer.from('/inner.py')]),
      'i = 1\n',
    );
  });
  after(() => {
    removeTree(root);
    removeTree(outside);
  });

  it('totals equal du --apparent-size -sb and du -sB1, each inode once', async () => {
    const s = await scan(resolveRoots([{ path: root }]));
    let apparent = 0;
    let allocated = 0;
    const seen = new Set<string>();
    for (let i = 0; i < s.table.count; i++) {
      const key = s.table.inodeKey(i);
      if (seen.has(key)) continue;
      seen.add(key);
      apparent += s.table.size[i]!;
      allocated += s.table.blocks[i]! * 512;
    }
    const du = duBytes(root);
    assert.equal(apparent, du.apparent);
    assert.equal(allocated, du.allocated);
    assert.deepEqual(s.problems, []);
  });

  it('never follows a symlink: the outside tree is not read', async () => {
    const s = await scan(resolveRoots([{ path: root }]));
    const names = Array.from({ length: s.table.count }, (_, i) => s.table.displayPath(i));
    assert.ok(!names.some((n) => n.includes('secret.txt') || n.includes('deep.py')), names.join('\n'));
    const link = names.findIndex((n) => n.endsWith('/link-to-outside'));
    assert.equal(s.table.type[link], TYPE_SYMLINK);
    assert.equal(s.table.type[names.findIndex((n) => n.endsWith('/dangling'))], TYPE_SYMLINK);
  });

  it("records a hardlink's second path with the index of the first", async () => {
    const s = await scan(resolveRoots([{ path: root }]));
    const t = s.table;
    const idx = (suffix: string): number =>
      Array.from({ length: t.count }, (_, i) => t.displayPath(i)).findIndex((n) => n.endsWith(suffix));
    const a = idx('/pkg/big.txt');
    const b = idx('/big-link.txt');
    assert.equal(t.nlink[a], 2);
    assert.equal(t.inodeKey(a), t.inodeKey(b));
    assert.equal(t.firstLink[Math.max(a, b)], Math.min(a, b));
    assert.equal(t.firstLink[Math.min(a, b)], -1);
  });

  it('keeps names that are not UTF-8 as their bytes, and can reach them again', async () => {
    const s = await scan(resolveRoots([{ path: root }]));
    const t = s.table;
    const bad = Array.from({ length: t.count }, (_, i) => i).filter((i) => typeof t.name[i] !== 'string');
    assert.equal(bad.length, 2);
    for (const i of bad)
      assert.ok(fs.lstatSync(t.fsPath(i)).isFile() || fs.lstatSync(t.fsPath(i)).isDirectory());
    const inner = Array.from({ length: t.count }, (_, i) => i).find((i) => t.name[i] === 'inner.py')!;
    assert.equal(t.type[inner], TYPE_FILE);
    assert.equal(t.displayPath(inner), `${fs.realpathSync(root)}/\\xe9d/inner.py`);
    assert.ok(fs.existsSync(t.fsPath(inner)));
    assert.ok(t.displayPath(bad.find((i) => t.type[i] === TYPE_FILE)!).endsWith('/f\\xff.py'));
  });

  it('counts a directory reached twice once: the same root twice, a root inside another', async () => {
    const once = (await scan(resolveRoots([{ path: root }]))).table.count;
    const twice = await scan(resolveRoots([{ path: root }, { path: `${root}/.` }]));
    assert.equal(twice.table.count, once);
    assert.equal(twice.roots.length, 1);
    const nested = await scan(
      resolveRoots([{ path: root }, { path: path.join(root, 'pkg'), label: 'inner' }]),
    );
    assert.equal(nested.table.count, once);
    // The nested root is walked first: its files are attributed to it.
    const inner = nested.roots.findIndex((r) => r.labels[0] === 'inner');
    const t = nested.table;
    const big = Array.from({ length: t.count }, (_, i) => i).find((i) => t.name[i] === 'big.txt')!;
    assert.equal(t.root[big], inner);
    assert.equal(nested.roots[inner]!.insideRoot, 1 - inner);
  });

  it('reports an unreadable directory, skips it and counts the rest (run as an unprivileged user)', (t) => {
    const d = tempDir();
    try {
      writeTree(d, { 'ok/a.py': 'a = 1\n', 'locked/hidden.py': 'h = 1\n' });
      fs.chmodSync(path.join(d, 'ok'), 0o755);
      fs.chmodSync(path.join(d, 'ok/a.py'), 0o644);
      fs.chmodSync(path.join(d, 'locked'), 0o000);
      const script = `import('${new URL('../src/scan/scan.js', import.meta.url).href}').then(async m => { const s = await m.scan(m.resolveRoots([{ path: ${JSON.stringify(d)} }])); console.log(JSON.stringify({ n: s.table.count, problems: s.problems })); })`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', uid: 65534, gid: 65534 });
      const asOther = r.error === undefined && !(r.status !== 0 && /EPERM/.test(r.stderr));
      if (!have(t, asOther, 'running a command as another user (root)')) return;
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as {
        n: number;
        problems: Array<{ path: string; code: string; message: string }>;
      };
      assert.equal(out.n, 4); // root, ok, ok/a.py, locked (the directory itself is counted, as du does)
      assert.equal(out.problems.length, 1);
      assert.equal(out.problems[0]!.path, `${fs.realpathSync(d)}/locked`);
      assert.equal(out.problems[0]!.code, 'EACCES');
      assert.equal(out.problems[0]!.message, 'permission denied');
    } finally {
      removeTree(d);
    }
  });

  it('an unreadable root is an EACCES error where the scan of roots starts: every command of the library', (t) => {
    const d = tempDir();
    try {
      writeTree(d, { 'locked/mod.py': 'X = 1\n' });
      const locked = path.join(d, 'locked');
      fs.chmodSync(locked, 0o700);
      const src = (m: string) => JSON.stringify(new URL(`../src/${m}.js`, import.meta.url).href);
      // The library, not the CLI: analyze, check, plan, split (the model), dedup and compile.
      const script = `
        const p = ${JSON.stringify(locked)};
        const calls = {
          analyze: async () => (await import(${src('analyze')})).analyze({ paths: [p], workers: 0 }),
          check: async () => (await import(${src('check/check')})).check({ paths: [p], workers: 0 }),
          plan: async () => (await import(${src('plan/plan')})).plan({ strategies: ['no-bytecode'], path: p, workers: 0 }),
          dedup: async () => (await import(${src('dedup/dedup')})).dedup({ paths: [p] }),
          compile: async () => (await import(${src('compile/compile')})).compile({ paths: [p], python: ${JSON.stringify('/usr/bin/python3')} }),
        };
        const out = {};
        for (const [name, call] of Object.entries(calls)) {
          try { await call(); out[name] = 'no error'; }
          catch (e) { out[name] = e.code + ' ' + e.message + ' | ' + e.hint; }
        }
        console.log(JSON.stringify(out));`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        uid: 65534,
        gid: 65534,
      });
      const asOther = r.error === undefined && !(r.status !== 0 && /EPERM/.test(r.stderr));
      if (!have(t, asOther, 'running a command as another user (root)')) return;
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, string>;
      for (const [name, got] of Object.entries(out))
        assert.equal(got, `EACCES cannot read ${locked}: permission denied | ${READ_HINT}`, name);
    } finally {
      removeTree(d);
    }
  });

  it('refuses a missing root, a file root, with typed errors', () => {
    assert.throws(
      () => resolveRoots([{ path: '/nonexistent/pyfloppy' }]),
      (e: unknown) =>
        e instanceof PyfloppyError &&
        e.code === 'ENOTFOUND' &&
        /no such file or directory: \/nonexistent\/pyfloppy/.test(e.message),
    );
    assert.throws(
      () => resolveRoots([{ path: path.join(root, 'a.py') }]),
      (e: unknown) => e instanceof PyfloppyError && e.code === 'ENOTDIR',
    );
  });

  it('follows a symlink given as the root itself, and nothing below it', async () => {
    const s = await scan(resolveRoots([{ path: path.join(root, 'link-to-outside') }]));
    assert.equal(s.roots[0]!.realPath, fs.realpathSync(outside));
    assert.equal(s.table.type[0], TYPE_DIR);
    assert.equal(s.table.count, 4);
  });
});

describe('scan with worker threads', () => {
  it('records exactly what a walk by one thread records, however the work is shared out', async () => {
    const root = tempDir();
    try {
      const files: Record<string, string> = {};
      for (let a = 0; a < 6; a++) {
        for (let b = 0; b < 5; b++) {
          for (let c = 0; c < 4; c++) files[`p${a}/q${b}/r${c}/m${c}.py`] = 'x'.repeat(a * 100 + b * 10 + c);
          files[`p${a}/q${b}/__init__.py`] = '';
        }
      }
      writeTree(root, files);
      fs.linkSync(path.join(root, 'p0/q0/r0/m0.py'), path.join(root, 'p5/hard.py'));
      fs.symlinkSync('../p1', path.join(root, 'p0/up'));
      const describe = (s: Awaited<ReturnType<typeof scan>>): string[] =>
        Array.from({ length: s.table.count }, (_, i) => {
          const t = s.table;
          const f = t.firstLink[i]!;
          return `${t.relativePath(i)} ${t.type[i]} ${t.size[i]} ${t.inodeKey(i)} ${t.parent[i] === -1 ? '' : t.relativePath(t.parent[i]!)} ${f === -1 ? '' : t.relativePath(f)}`;
        }).sort();
      const alone = await scan(resolveRoots([{ path: root }]));
      for (const workers of [1, 2, 3]) {
        const pool = new LazyPool(workers);
        try {
          // Count the requests the scan sends to the worker threads (the pool is the one the scan gets).
          const threads = pool.get()!;
          let requests = 0;
          const request = threads.request.bind(threads);
          threads.request = (make) => {
            requests++;
            return request(make);
          };
          const shared = await scan(resolveRoots([{ path: root }]), { pool, mainDirs: 1, batchDirs: 2 });
          assert.ok(requests > 1, `${requests} requests sent to the ${workers} worker threads`);
          const a = describe(alone);
          const b = describe(shared);
          // The hardlink's first path depends on walk order; compare everything else exactly.
          assert.deepEqual(
            b.map((l) => l.split(' ').slice(0, 5).join(' ')),
            a.map((l) => l.split(' ').slice(0, 5).join(' ')),
          );
          assert.equal(b.filter((l) => l.split(' ')[5] !== '').length, 1);
          // Parents precede children, whatever order the batches came back in.
          for (let i = 0; i < shared.table.count; i++) assert.ok(shared.table.parent[i]! < i);
        } finally {
          await pool.close();
        }
      }
    } finally {
      removeTree(root);
    }
  });
  it('counts a directory reached twice through a bind mount once, also when two workers reach it', async (t) => {
    const root = tempDir();
    // x/a and y/b are one directory, in two subtrees that go to two different workers.
    const b = path.join(root, 'y/b');
    let mounted = false;
    try {
      const files: Record<string, string> = {};
      for (let k = 0; k < 20; k++) files[`x/a/d${k}/f.py`] = `x = ${k}\n`;
      writeTree(root, files);
      fs.mkdirSync(b, { recursive: true });
      const bound = spawnSync('mount', ['--bind', path.join(root, 'x/a'), b]).status === 0;
      if (!have(t, bound, 'mount --bind (root, CAP_SYS_ADMIN)')) return;
      mounted = true;
      const alone = await scan(resolveRoots([{ path: root }]));
      // root, x, y, a (once) and its 40 entries.
      assert.equal(alone.table.count, 1 + 2 + 1 + 40);
      for (let round = 0; round < 5; round++) {
        const pool = new LazyPool(2);
        try {
          const shared = await scan(resolveRoots([{ path: root }]), { pool, mainDirs: 1, batchDirs: 1 });
          assert.equal(shared.table.count, alone.table.count);
          const dirs = new Set<string>();
          for (let i = 0; i < shared.table.count; i++) {
            if (shared.table.type[i] !== TYPE_DIR) continue;
            assert.ok(!dirs.has(shared.table.inodeKey(i)), 'a directory recorded twice');
            dirs.add(shared.table.inodeKey(i));
          }
          for (let i = 0; i < shared.table.count; i++) assert.ok(shared.table.parent[i]! < i);
        } finally {
          await pool.close();
        }
      }
    } finally {
      if (mounted) spawnSync('umount', [b]);
      removeTree(root);
    }
  });
});

describe('entry table', () => {
  it('holds a million entries in well under 1 GiB', () => {
    const before = process.memoryUsage();
    const t = new EntryTable(1024);
    for (let i = 0; i < 1_000_000; i++) {
      const k = t.add();
      t.parent[k] = k - 1;
      t.size[k] = i;
      t.name[k] = `module_${i}.cpython-313.opt-1.pyc`;
    }
    const after = process.memoryUsage();
    // Garbage from growing the arrays is still counted here (no forced GC), so this overestimates.
    const used = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
    assert.equal(t.count, 1_000_000);
    assert.ok(used < 400 * 1024 * 1024, `${(used / 1048576).toFixed(0)} MiB for a million entries`);
  });
});
