/**
 * What `npm pack` ships: the compiled library and command, its worker scripts, the README and the LICENSE
 * package.json names, the native helper's source; no source maps (they point at TypeScript sources that are
 * not shipped), no tests; and one install-time script, which builds the optional helper and never fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { have } from './helpers/need.js';
import { removeTree, tempDir } from './helpers/tree.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('the npm package', () => {
  it('ships the command, the compiled library, python/ and LICENSE; no maps, no tests, no sources', (t) => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (!have(t, r.status === 0, `npm pack (${r.error?.message ?? r.stderr})`)) return;
    const [pack] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>;
    const files = pack!.files.map((f) => f.path);
    assert.deepEqual(
      files.filter((f) => f.endsWith('.map')),
      [],
    );
    assert.deepEqual(
      files.filter((f) => f.startsWith('dist/test/') || f.startsWith('src/') || f.startsWith('test/')),
      [],
    );
    for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/pyfloppy.js', 'dist/src/cli/main.js'])
      assert.ok(files.includes(f), `${f} is shipped`);
    assert.ok(
      files.some((f) => f.startsWith('python/')),
      'the worker scripts are shipped',
    );
    assert.ok(files.includes('dist/src/index.d.ts'), 'the library types are shipped');
    for (const f of ['native/at.c', 'native/build.mjs']) assert.ok(files.includes(f), `${f} is shipped`);
  });

  it('runs one install script, which needs no dependency and never fails, and says MIT with a LICENSE', () => {
    const pkg = JSON.parse(fs.readFileSync(`${ROOT}package.json`, 'utf8')) as {
      license: string;
      scripts: Record<string, string>;
    };
    // prepare would need the dev dependencies; install only builds the optional native helper.
    for (const s of ['prepare', 'preinstall', 'postinstall'])
      assert.equal(pkg.scripts[s], undefined, `no ${s} script`);
    assert.equal(pkg.scripts['install'], 'node native/build.mjs');
    assert.equal(pkg.license, 'MIT');
    assert.match(fs.readFileSync(`${ROOT}LICENSE`, 'utf8'), /^MIT License/);
  });

  it('installs without a C compiler: the helper is not built, one line says so, the install goes on', () => {
    const copy = tempDir();
    try {
      fs.cpSync(`${ROOT}native`, path.join(copy, 'native'), { recursive: true });
      const r = spawnSync(process.execPath, [path.join(copy, 'native', 'build.mjs')], {
        encoding: 'utf8',
        env: { ...process.env, CC: path.join(copy, 'no-such-cc') },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        r.stderr,
        /^pyfloppy: native helper not built: no C compiler .*\/proc\/self\/fd \(slower\)\n$/,
      );
      assert.ok(!fs.existsSync(path.join(copy, 'build', 'at.node')));
    } finally {
      removeTree(copy);
    }
  });
});
