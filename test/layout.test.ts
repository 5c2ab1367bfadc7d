import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extensionModuleName, isSysPathDirName, parseCacheName } from '../src/python/layout.js';
import { have } from './helpers/need.js';
import { interpreters, runPython, cpython } from './helpers/python.js';

describe('cache file names', () => {
  it('parses what every interpreter on this machine names its caches', (t) => {
    const all = interpreters();
    if (!have(t, all.length > 0, cpython('3'))) return;
    const code = [
      'import importlib.util, json, sys',
      'out = []',
      'for mod in ("os", "__init__", "mod.with.dots", "_x"):',
      '    for opt in ("", 1, 2):',
      '        out.append([mod, opt or 0, importlib.util.cache_from_source("/t/%s.py" % mod, optimization=opt).rsplit("/", 1)[1]])',
      'print(json.dumps({"tag": sys.implementation.cache_tag, "names": out}))',
    ].join('\n');
    for (const i of all) {
      const { tag, names } = JSON.parse(runPython(i, code)) as {
        tag: string;
        names: Array<[string, number, string]>;
      };
      for (const [mod, level, name] of names) {
        assert.deepEqual(parseCacheName(name), { module: mod, tag, level }, `${i.version}: ${name}`);
      }
    }
  });

  it('rejects names CPython never writes', () => {
    assert.equal(parseCacheName('os.pyc'), undefined);
    assert.equal(parseCacheName('os.cpython-313.opt-0.pyc'), undefined);
    assert.equal(parseCacheName('os.cpython-313.opt-3.pyc'), undefined);
    assert.equal(parseCacheName('os.cpython-313.py'), undefined);
    assert.equal(parseCacheName('.cpython-313.pyc'), undefined);
  });

  it("keeps free-threaded and other implementations' tags", () => {
    assert.deepEqual(parseCacheName('os.cpython-313t.opt-2.pyc'), {
      module: 'os',
      tag: 'cpython-313t',
      level: 2,
    });
    assert.deepEqual(parseCacheName('os.pypy310.pyc'), { module: 'os', tag: 'pypy310', level: 0 });
  });
});

describe('other names', () => {
  it('finds the module of an extension file', () => {
    assert.equal(extensionModuleName('_json.cpython-313-x86_64-linux-gnu.so'), '_json');
    assert.equal(extensionModuleName('_speedups.abi3.so'), '_speedups');
    assert.equal(extensionModuleName('foo.pyd'), 'foo');
    assert.equal(extensionModuleName('libfoo.so.1'), undefined);
  });

  it('knows sys.path directories from packages', () => {
    for (const n of [
      'site-packages',
      'dist-packages',
      'lib-dynload',
      'python3.13',
      'python3.13t',
      'python2.7',
    ]) {
      assert.ok(isSysPathDirName(n), n);
    }
    for (const n of ['python', 'email', 'python3', 'site_packages']) assert.ok(!isSysPathDirName(n), n);
  });
});
