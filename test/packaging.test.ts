/**
 * What `npm pack` ships: the compiled library and command, its worker scripts, the README and the LICENSE
 * package.json names; no source maps (they point at TypeScript sources that are not shipped), no tests; and
 * no install-time script a user's `npm install` of the tarball would have to run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { have } from './helpers/need.js';

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
  });

  it('runs no script when installed (prepare would need the dev dependencies), and says MIT with a LICENSE', () => {
    const pkg = JSON.parse(fs.readFileSync(`${ROOT}package.json`, 'utf8')) as {
      license: string;
      scripts: Record<string, string>;
    };
    for (const s of ['prepare', 'install', 'preinstall', 'postinstall'])
      assert.equal(pkg.scripts[s], undefined, `no ${s} script`);
    assert.equal(pkg.license, 'MIT');
    assert.match(fs.readFileSync(`${ROOT}LICENSE`, 'utf8'), /^MIT License/);
  });
});
