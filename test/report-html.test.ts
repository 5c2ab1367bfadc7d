/**
 * The HTML report as a person sees it: rendered by a real browser (Debian's chromium, headless) at 1280x800,
 * with a screenshot, no console errors, and nothing fetched from the network.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { removeTree, tempDir, writeTree } from './helpers/tree.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
  '--window-size=1280,800',
];

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const b = fs.readFileSync(file);
  assert.equal(b.subarray(1, 4).toString('latin1'), 'PNG');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('analyze --format html', () => {
  it('is one self-contained page: no script, no external resource', () => {
    const root = tempDir();
    try {
      writeTree(root, {
        'a.py': 'x = 1\n',
        '__pycache__/a.cpython-313.pyc': 'b'.repeat(900),
        '<odd>&name.py': 'y = 2\n'.repeat(400),
      });
      const out = path.join(root, 'report.html');
      const r = runCli(['analyze', root, '--format', 'html', '--output', out]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `pyfloppy: wrote ${out}\n`);
      const html = fs.readFileSync(out, 'utf8');
      assert.match(html, /^<!doctype html>/);
      assert.doesNotMatch(html, /<script|<link |@import|url\(|https?:\/\//i);
      assert.match(html, /&lt;odd&gt;&amp;name/); // names are escaped
      assert.match(html, /<svg class="treemap"/);
      for (const id of ['dedup', 'sourceless', 'pysources', 'no-bytecode'])
        assert.ok(html.includes(`<code>${id}</code>`), id);
    } finally {
      removeTree(root);
    }
  });

  it('keeps --top, and has the distributions, the strategy notes and the problems', (t) => {
    const root = tempDir();
    try {
      const files: Record<string, string> = {
        'foo-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n',
        'foo-1.0.dist-info/RECORD': 'foo/__init__.py,,\nfoo-1.0.dist-info/METADATA,,\n',
        'foo/__init__.py': 'F = 1\n'.repeat(50),
        'locked/hidden.py': 'h = 1\n',
      };
      for (let n = 0; n < 6; n++) files[`mod${n}.py`] = 'x = 1\n'.repeat(100 * (n + 1));
      writeTree(root, files);
      fs.chmodSync(path.join(root, 'locked'), 0o000);
      const r = runCli(['analyze', root, '--format', 'html', '--top', '3'], { uid: 65534, gid: 65534 });
      if (!have(t, r.status !== null, 'running a command as another user (root)')) return;
      assert.equal(r.status, 0, r.stderr);
      const html = r.stdout;
      const modules = /<h2>Biggest modules[^]*?<tbody>([^]*?)<\/tbody>/.exec(html)?.[1] ?? '';
      assert.equal(modules.match(/<tr>/g)?.length, 3, 'three module rows for --top 3');
      assert.match(html, /<h2>Biggest distributions[^]*<code>foo<\/code><\/td><td>1\.0<\/td>/);
      assert.match(html, /<h2 [^>]*>Notes<\/h2><ul class="notes"><li><code>[a-z-]+<\/code>: /);
      assert.match(
        html,
        /<h2>Problems <span class="dim">\(1\)[^]*<code>[^<]*\/locked<\/code>: permission denied \(EACCES\)/,
      );
    } finally {
      removeTree(root);
    }
  });

  it('renders in headless Chromium at 1280x800 without console errors (screenshot kept in the test directory)', (t) => {
    if (!have(t, CHROMIUM, "Debian's chromium (apt-get install chromium)")) return;
    const root = tempDir();
    try {
      const files: Record<string, string> = {};
      for (let m = 0; m < 60; m++) {
        const pkg = `pkg${m % 12}`;
        files[`${pkg}/mod${m}.py`] = `x = ${m}\n`.repeat(50 + m * 20);
        files[`${pkg}/__pycache__/mod${m}.cpython-313.pyc`] = 'c'.repeat(2000 + m * 300);
        files[`${pkg}/__pycache__/mod${m}.cpython-313.opt-1.pyc`] = 'c'.repeat(2000 + m * 300);
        files[`${pkg}/__pycache__/mod${m}.cpython-313.opt-2.pyc`] = 'd'.repeat(1500 + m * 200);
      }
      files['lib-dynload/_big.cpython-313-x86_64-linux-gnu.so'] = 'e'.repeat(90_000);
      writeTree(root, files);
      const page = path.join(root, 'report.html');
      assert.equal(runCli(['analyze', root, '--format', 'html', '-o', page]).status, 0);
      const shot = path.join(root, 'report.png');
      const profile = path.join(root, 'profile');
      const r = spawnSync(
        CHROMIUM,
        [
          ...FLAGS,
          `--user-data-dir=${profile}`,
          '--enable-logging=stderr',
          '--v=0',
          `--screenshot=${shot}`,
          `file://${page}`,
        ],
        { encoding: 'utf8', timeout: 90_000 },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(pngSize(shot), { width: 1280, height: 800 });
      assert.ok(fs.statSync(shot).size > 20_000, 'a screenshot with content');
      const consoleErrors = r.stderr
        .split('\n')
        .filter((l) => /CONSOLE|Uncaught|Failed to load resource/.test(l));
      assert.deepEqual(consoleErrors, []);
      // The DOM as rendered: the treemap drew a rectangle per module and file type.
      const dom = spawnSync(
        CHROMIUM,
        [...FLAGS, `--user-data-dir=${profile}`, '--dump-dom', `file://${page}`],
        {
          encoding: 'utf8',
          timeout: 90_000,
        },
      );
      assert.ok((dom.stdout.match(/<rect /g) ?? []).length > 40, 'treemap rectangles in the rendered DOM');
      t.diagnostic(`screenshot: ${shot}`);
    } finally {
      removeTree(root);
    }
  });
});
