/** pyc headers, magic numbers and source hashes, checked against every CPython on this machine. */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { magicInfo, PycError, parsePycHeader, sourceHash } from '../src/python/pyc.js';
import { have } from './helpers/need.js';
import { interpreters, runPython, cpython } from './helpers/python.js';
import { removeTree, tempDir } from './helpers/tree.js';

const all = interpreters({ includePython2: true });

describe('magic numbers', () => {
  it('name the version and cache tag of every interpreter on this machine', (t) => {
    if (!have(t, all.length > 0, cpython('2.7 or 3'))) return;
    for (const i of all) {
      const out = runPython(
        i,
        'import sys\ntry:\n    import importlib.util as u; m = u.MAGIC_NUMBER\nexcept ImportError:\n    import imp; m = imp.get_magic()\nimpl = getattr(sys, "implementation", None)\nsys.stdout.write("%d %s" % (ord(m[0:1]) | ord(m[1:2]) << 8, impl.cache_tag if impl else None))',
      );
      const [number, tag] = out.split(' ');
      const info = magicInfo(Number(number));
      assert.ok(info !== undefined, `${i.version}: magic ${number} unknown`);
      assert.equal(info.version, `${i.major}.${i.minor}`);
      assert.equal(info.cacheTag ?? 'None', tag);
    }
  });

  it('refuse what is not a pyc: truncated, no \\r\\n, unknown magic, undefined flags', () => {
    const fail = (b: number[], reason: string) =>
      assert.throws(
        () => parsePycHeader(Uint8Array.from(b)),
        (e: unknown) => e instanceof PycError && e.reason === reason,
      );
    fail([0x33], 'truncated');
    fail([0xf3, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0], 'truncated'); // 3.13 needs 16 bytes
    fail([0x23, 0x21, 0x2f, 0x75, 0x73, 0x72, 0x2f, 0x62], 'not-pyc'); // "#!/usr/b"
    fail([0x10, 0x27, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'unknown-magic'); // 10000
    fail([0xf3, 0x0d, 0x0d, 0x0a, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'bad-flags');
  });
});

describe('pyc headers', () => {
  it('read what py_compile wrote: timestamp, checked-hash and unchecked-hash, with every interpreter', (t) => {
    const py3 = all.filter((i) => i.major === 3);
    if (!have(t, py3.length > 0, cpython('3'))) return;
    const d = tempDir();
    try {
      const src = path.join(d, 'mod.py');
      fs.writeFileSync(src, '"""Doc."""\nx = [i * 2 for i in range(10)]\n');
      fs.utimesSync(src, 1_700_000_000, 1_700_000_000);
      for (const i of py3) {
        const modes = i.minor >= 7 ? ['TIMESTAMP', 'CHECKED_HASH', 'UNCHECKED_HASH'] : [''];
        for (const mode of modes) {
          const out = path.join(d, `mod-${i.version}-${mode}.pyc`);
          const arg = mode === '' ? '' : `, invalidation_mode=py_compile.PycInvalidationMode.${mode}`;
          runPython(
            i,
            `import py_compile; py_compile.compile(${JSON.stringify(src)}, ${JSON.stringify(out)}, doraise=True${arg})`,
          );
          const h = parsePycHeader(fs.readFileSync(out));
          assert.equal(h.magic.version, `${i.major}.${i.minor}`);
          if (mode === '' || mode === 'TIMESTAMP') {
            assert.equal(h.invalidation, 'timestamp');
            assert.equal(h.mtime, 1_700_000_000);
            assert.equal(h.sourceSize, fs.statSync(src).size);
            assert.equal(h.headerSize, i.minor >= 7 ? 16 : 12);
          } else {
            assert.equal(h.invalidation, mode === 'CHECKED_HASH' ? 'checked-hash' : 'unchecked-hash');
            // The hash as the interpreter computes it, and as the file holds it (bytes 8-15 of the header).
            const want = runPython(
              i,
              'import importlib.util, sys; print(importlib.util.source_hash(open(sys.argv[1], "rb").read()).hex())',
              [src],
            ).trim();
            assert.equal(h.sourceHash?.toString('hex'), want, `${i.version} ${mode}`);
            assert.equal(fs.readFileSync(out).subarray(8, 16).toString('hex'), want);
          }
        }
      }
    } finally {
      removeTree(d);
    }
  });
});

describe('source_hash', () => {
  it('equals importlib.util.source_hash for random and real sources, on every interpreter from 3.7', (t) => {
    const py = all.filter((i) => i.major === 3 && i.minor >= 7);
    if (!have(t, py.length > 0, cpython('3.7 or later'))) return;
    const d = tempDir();
    try {
      const samples: Buffer[] = [
        Buffer.alloc(0),
        Buffer.from('x'),
        Buffer.from('12345678'),
        Buffer.from('123456789'),
      ];
      for (let n = 0; n < 40; n++) samples.push(crypto.randomBytes(n * 13 + (n % 9)));
      samples.push(fs.readFileSync(new URL('../../python/describe.py', import.meta.url)));
      samples.forEach((s, k) => fs.writeFileSync(path.join(d, `s${k}`), s));
      for (const i of py) {
        const expected = JSON.parse(
          runPython(
            i,
            'import importlib.util, json, os, sys\nd = sys.argv[1]\nprint(json.dumps([importlib.util.source_hash(open(os.path.join(d, "s%d" % k), "rb").read()).hex() for k in range(int(sys.argv[2]))]))',
            [d, String(samples.length)],
          ),
        ) as string[];
        const magic = Number(
          runPython(i, 'import importlib.util as u; print(int.from_bytes(u.MAGIC_NUMBER[:2], "little"))'),
        );
        samples.forEach((s, k) =>
          assert.equal(sourceHash(s, magic).toString('hex'), expected[k], `${i.version} sample ${k}`),
        );
      }
    } finally {
      removeTree(d);
    }
  });
});
