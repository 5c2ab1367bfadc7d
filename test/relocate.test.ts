/**
 * Relocated bytecode is what CPython writes: a module compiled with one dfile, relocated to another by
 * pyfloppy, is what py_compile writes with the other dfile (short and long ASCII names, a non-ASCII one), on
 * every CPython 3 here: same size, equal code objects, every one naming the new file.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { relocatePyc, relocatedSize, RelocateError } from '../src/python/relocate.js';
import { have } from './helpers/need.js';
import { cpython, interpreter, runPython, stdlibOf } from './helpers/python.js';
import { removeTree, tempDir } from './helpers/tree.js';

const MODULES = [
  'json/decoder.py',
  'argparse.py',
  'collections/__init__.py',
  'email/_header_value_parser.py',
];
const NAMES = {
  build: '/build/BUILDROOT/usr/lib/python3/MOD',
  short: '/usr/lib/python3/MOD',
  long: `/${'deep/'.repeat(60)}MOD`,
  nonAscii: '/opt/pythön/lib/MOD',
};

// One fresh process per name, doing the same steps with the same hash seed (the order of set constants
// depends on string hashes). marshal's reference flags still vary from one process to the next (they depend
// on reference counts: bpo-34093; one flag more shifts every later reference index), so the oracle is the
// size, CPython's own code equality, every code object's file name, and the exact bytes of a round trip.
const COMPILE = `
import py_compile, sys
lib, out, name = sys.argv[1], sys.argv[2], sys.argv[3]
for i, rel in enumerate(sys.argv[4:]):
    py_compile.compile(lib + "/" + rel, cfile="%s/%s.%d.pyc" % (out, name, i), dfile=NAMES[name].replace("MOD", rel), doraise=True)
`;

const CHECK = `
import marshal, sys
data = open(sys.argv[1], "rb").read()
hs = 12 if sys.version_info < (3, 7) else 16
def names(c):
    yield c.co_filename
    for k in c.co_consts:
        if hasattr(k, "co_code"):
            yield from names(k)
code = marshal.loads(data[hs:])
assert code == marshal.loads(open(sys.argv[2], "rb").read()[hs:]), "not the code CPython compiled"
print("\\n".join(sorted(set(names(code)))))
`;

describe('relocatePyc', () => {
  const dir = tempDir('pyfloppy-relocate-');
  after(() => removeTree(dir));
  for (const v of ['3.6', '3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13']) {
    it(`renames a module's file as CPython ${v}'s py_compile would`, (t) => {
      const py = interpreter(v);
      if (!have(t, py, cpython(v))) return;
      const out = path.join(dir, v);
      fs.mkdirSync(out);
      const lib = stdlibOf(py);
      const script = `NAMES = ${JSON.stringify(NAMES)}\n${COMPILE}`;
      for (const name of Object.keys(NAMES)) {
        const env = { ...process.env, PYTHONHASHSEED: '0' };
        const res: SpawnSyncReturns<string> = spawnSync(py.exe, ['-c', script, lib, out, name, ...MODULES], {
          encoding: 'utf8',
          env,
        });
        assert.equal(res.status, 0, res.stderr);
      }
      let renamed = 0;
      MODULES.forEach((rel, i) => {
        const built = fs.readFileSync(path.join(out, `build.${i}.pyc`));
        for (const [name, pattern] of Object.entries(NAMES)) {
          if (name === 'build') continue;
          const want = pattern.replace('MOD', rel);
          const got = relocatePyc(built, want);
          const expected = fs.readFileSync(path.join(out, `${name}.${i}.pyc`));
          assert.equal(got.length, expected.length, `${rel} as ${name}`);
          const back = relocatePyc(got, NAMES.build.replace('MOD', rel));
          assert.ok(back.equals(built), `${rel}: relocated there and back is not the original`);
          assert.equal(got.length, relocatedSize(built.length, NAMES.build.replace('MOD', rel), want));
          const file = path.join(out, `got.${name}.${i}.pyc`);
          fs.writeFileSync(file, got);
          assert.equal(runPython(py, CHECK, [file, path.join(out, `${name}.${i}.pyc`)]).trim(), want);
          renamed++;
        }
      });
      assert.equal(renamed, MODULES.length * 3);
    });
  }

  it('refuses what it cannot relocate', () => {
    const py2 = Buffer.concat([Buffer.from([0x03, 0xf3, 0x0d, 0x0a]), Buffer.alloc(12)]);
    assert.throws(() => relocatePyc(py2, '/x.py'), RelocateError);
    const noCode = Buffer.concat([Buffer.from([0xf3, 0x0d, 0x0d, 0x0a]), Buffer.alloc(12), Buffer.from('N')]);
    assert.throws(() => relocatePyc(noCode, '/x.py'), /no code object names a file/);
  });
});
