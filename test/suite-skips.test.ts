/**
 * A test that cannot run is counted as skipped in the summary, never as passed: requirements go through
 * have() (test/helpers/need.ts), which marks the test itself skipped. A suite-level `{ skip: ... }` option
 * or a `.skip()` would hide a whole file behind a passing count, so none is left in test/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { fastTempDir, removeTree } from './helpers/tree.js';

const SOURCES = fileURLToPath(new URL('../../test/', import.meta.url));
const NEED = fileURLToPath(new URL('./helpers/need.js', import.meta.url));

describe('skips are counted as skips', () => {
  it('no test file skips a suite or a test by option or by .skip()', () => {
    const offending: string[] = [];
    for (const name of fs.readdirSync(SOURCES).filter((n) => n.endsWith('.test.ts'))) {
      const text = fs.readFileSync(path.join(SOURCES, name), 'utf8');
      text.split('\n').forEach((line, n) => {
        if (/^\s*(\*|\/\/)/.test(line)) return; // prose about skips, not a skip
        if (/\{\s*skip\s*:|\b(describe|it|test|suite)\.(skip|todo)\(|\{\s*todo\s*:/.test(line))
          offending.push(`${name}:${n + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(offending, []);
  });

  it("have() on a missing requirement makes node --test's summary say skipped 1, pass 0", () => {
    const dir = fastTempDir();
    try {
      const file = path.join(dir, 'missing.test.mjs');
      fs.writeFileSync(
        file,
        [
          "import { it } from 'node:test';",
          `import { have } from ${JSON.stringify(NEED)};`,
          "it('needs a tool', (t) => { if (!have(t, undefined, 'a tool')) return; });",
        ].join('\n'),
      );
      const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], {
        encoding: 'utf8',
        // Why: NODE_TEST_CONTEXT (set for this file's own run) would make the child report to us, not print.
        env: { ...process.env, CI: '', NODE_TEST_CONTEXT: undefined },
      });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^# skipped 1$/m);
      assert.match(r.stdout, /^# pass 0$/m);
      assert.match(r.stdout, /# SKIP missing: a tool/);
    } finally {
      removeTree(dir);
    }
  });
});
