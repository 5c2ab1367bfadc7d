/**
 * The marshal reader walks every .pyc of real stdlibs (3.8, 3.11, 3.13 where present) and finds the same code
 * objects, with the same file names, names and first lines, as CPython's own marshal.loads.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { codeObjects, MarshalError, readMarshal } from '../src/python/marshal.js';
import { parsePycHeader } from '../src/python/pyc.js';
import { have } from './helpers/need.js';
import { interpreter, runPython, stdlibOf, cpython } from './helpers/python.js';

const PY_DIGESTS = `
import hashlib, json, marshal, os, sys
root, hs = sys.argv[1], int(sys.argv[2])
out = {}
def walk(c, acc):
    acc.append("%s|%s|%d" % (c.co_filename, getattr(c, "co_qualname", c.co_name), c.co_firstlineno))
    for k in c.co_consts:
        if hasattr(k, "co_code"):
            walk(k, acc)
for d, _, fs in os.walk(root):
    if os.path.basename(d) != "__pycache__":
        continue
    for f in fs:
        if f.endswith(".pyc"):
            p = os.path.join(d, f)
            acc = []
            walk(marshal.loads(open(p, "rb").read()[hs:]), acc)
            out[os.path.relpath(p, root)] = hashlib.sha256("\\n".join(acc).encode("utf-8", "surrogateescape")).hexdigest()
print(json.dumps(out))
`;

describe('marshal reader', () => {
  for (const v of ['3.8', '3.11', '3.13']) {
    it(`walks every .pyc of the ${v} stdlib and finds the code objects CPython finds`, (t) => {
      const py = interpreter(v);
      if (!have(t, py, cpython(v))) return;
      const stdlib = stdlibOf(py);
      const expected = JSON.parse(runPython(py, PY_DIGESTS, [stdlib, '16'])) as Record<string, string>;
      const files = Object.keys(expected);
      assert.ok(files.length > 1000, `${files.length} pyc files`);
      let codes = 0;
      for (const rel of files) {
        const data = fs.readFileSync(path.join(stdlib, rel));
        const header = parsePycHeader(data);
        const all = codeObjects(readMarshal(data, py.minor, header.headerSize));
        codes += all.length;
        const digest = crypto
          .createHash('sha256')
          .update(all.map((c) => `${c.filename}|${c.qualname}|${c.firstlineno}`).join('\n'))
          .digest('hex');
        assert.equal(digest, expected[rel], rel);
      }
      t.diagnostic(`${files.length} files, ${codes} code objects`);
    });
  }

  it('refuses truncated and unknown data with the offset', () => {
    assert.throws(() => readMarshal(Uint8Array.from([0xe3, 1, 0]), 13), MarshalError);
    assert.throws(() => readMarshal(Uint8Array.from([0x07]), 13), /unknown marshal type 0x7 at byte 0/);
    assert.throws(() => readMarshal(Uint8Array.from([0x72, 5, 0, 0, 0]), 13), /bad reference 5/);
  });
});
