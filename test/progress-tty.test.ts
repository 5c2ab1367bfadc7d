/**
 * README, analyze: "on a terminal, a progress line on stderr once a scan takes more than a second; nothing
 * when stderr is not a terminal". On a real pseudo-terminal (util-linux `script`), with the scan slowed
 * past that second by tracing its system calls (strace): the line is drawn at the start of the line,
 * counts that only grow, at most ten redraws a second, and cleared at the end; through a pipe, nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BIN, runCli } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { cpython, interpreter, interpreters, stdlibOf } from './helpers/python.js';
import { copyTree, fastTempDir, removeTree } from './helpers/tree.js';

const py = interpreter('3.13');
/** The terminal's escape character, and a control sequence's introducer as a regular expression. */
const ESC = '\x1b';
const CSI = `${ESC}\\[`;
/** The packages compile rewrites at every level: enough sources to outlast a second. */
const KEEP = ['asyncio', 'email', 'json', 'http', 'xml', 'concurrent', 'importlib', 'unittest', 'logging'];
const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
const tool = (cmd: string, arg: string): boolean => spawnSync(cmd, [arg]).status === 0;

describe('the progress line', () => {
  it('on a terminal: drawn after a second, redrawn at most 10 times a second, cleared at the end', (t) => {
    if (!have(t, tool('script', '--version'), "util-linux's script (a pseudo-terminal)")) return;
    if (!have(t, tool('strace', '-V'), "strace (Debian's strace), to slow the scan down")) return;
    if (!have(t, py, cpython('3.13'))) return;
    // Tracing every system call makes the scan of whole stdlibs last several seconds; 3.11 and newer,
    // so that under a loaded machine (the suite runs two files at once) the scan still outlasts the delay.
    const stdlibs = [py, ...interpreters().filter((i) => i.minor >= 11 && i.minor !== py.minor)].map(
      stdlibOf,
    );
    const command = ['strace', '-f', '-o', '/dev/null', process.execPath, BIN, 'analyze', ...stdlibs]
      .map(quote)
      .join(' ');
    const t0 = Date.now();
    const r = spawnSync('script', ['-qec', `${command} --no-strategies --json >/dev/null`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' },
    });
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(r.status, 0, r.stderr);
    // What the terminal received: stderr only (stdout went to /dev/null).
    const draws = [
      ...r.stdout.matchAll(new RegExp(`${CSI}1Gscanning: ([\\d,]+) entries, [\\d.]+ [KMG]?i?B${CSI}0K`, 'g')),
    ];
    assert.ok(draws.length > 0, `no progress line in ${JSON.stringify(r.stdout.slice(0, 300))}`);
    const counts = draws.map((m) => Number(m[1]!.replaceAll(',', '')));
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => a - b),
      'the counts only grow',
    );
    assert.ok(draws.length <= Math.ceil(seconds * 10) + 1, `${draws.length} redraws in ${seconds} s`);
    assert.ok(r.stdout.endsWith('\x1b[1G\x1b[2K'), 'the line is cleared at the end');
    assert.equal(
      r.stdout.replace(
        new RegExp(`${CSI}[0-9]*[A-Za-z]|(?:scanning|comparing bytecode levels): [^${ESC}]*`, 'g'),
        '',
      ),
      '',
      'nothing but the progress line (the scan, then the comparison of levels)',
    );
  });

  it('after the scan: analyze and check name the step and its seconds, compile counts its sources', (t) => {
    if (!have(t, tool('script', '--version'), "util-linux's script (a pseudo-terminal)")) return;
    if (!have(t, tool('strace', '-V'), "strace (Debian's strace), to slow analyze and check down")) return;
    if (!have(t, py, cpython('3.13'))) return;
    const work = fastTempDir();
    try {
      // analyze and check read the whole stdlib; compile rewrites a copy of some of its packages.
      const lib = path.join(work, 'lib');
      copyTree(stdlibOf(py), lib, { exclude: fs.readdirSync(stdlibOf(py)).filter((n) => !KEEP.includes(n)) });
      /** What the terminal received from a command (its stdout to /dev/null), its draws of `pattern`. */
      // analyze and check are slowed past the second by tracing them (as above); compile's interpreters
      // take longer than that on their own.
      const terminal = (args: string[], pattern: string): { seen: string; draws: RegExpMatchArray[] } => {
        const traced = args[0] === 'compile' ? [] : ['strace', '-f', '-o', '/dev/null'];
        const command = [...traced, process.execPath, BIN, ...args].map(quote).join(' ');
        const r = spawnSync('script', ['-qec', `${command} >/dev/null`, '/dev/null'], {
          encoding: 'utf8',
          env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' },
        });
        assert.ok(r.status === 0 || r.status === 1, `${args.join(' ')}: ${r.status} ${r.stderr}`);
        const draws = [...r.stdout.matchAll(new RegExp(`${CSI}1G${pattern}${CSI}0K`, 'g'))];
        assert.ok(
          draws.length > 0,
          `${args[0]}: no ${pattern} line in ${JSON.stringify(r.stdout.slice(0, 300))}`,
        );
        assert.ok(r.stdout.endsWith('\x1b[1G\x1b[2K'), `${args[0]}: the line is cleared at the end`);
        return { seen: r.stdout, draws };
      };
      const seconds = (draws: RegExpMatchArray[]): number[] => draws.map((m) => Number(m[1]));
      const growing = (xs: number[], what: string): void =>
        assert.deepEqual(
          xs,
          [...xs].sort((a, b) => a - b),
          `${what} only grow`,
        );

      const analyze = terminal(['analyze', stdlibOf(py), '--json'], 'estimating savings: ([\\d.]+) s');
      growing(seconds(analyze.draws), 'analyze: the seconds');
      const check = terminal(['check', stdlibOf(py), '--json'], 'reading caches: ([\\d.]+) s');
      growing(seconds(check.draws), 'check: the seconds');
      const compile = terminal(
        ['compile', lib, '--python', py.exe, '-f', '-o', '0', '-o', '1', '-o', '2'],
        'compiling: ([\\d,]+) of ([\\d,]+)',
      );
      const done = compile.draws.map((m) => Number(m[1]!.replaceAll(',', '')));
      growing(done, 'compile: the sources done');
      const total = new Set(compile.draws.map((m) => m[2]));
      assert.equal(total.size, 1, 'one total');
      assert.ok(done.at(-1)! <= Number([...total][0]!.replaceAll(',', '')));
      // Through a pipe, none of them draws anything.
      for (const args of [
        ['analyze', lib, '--json'],
        ['check', lib, '--json'],
        ['compile', lib, '--python', py.exe, '-f', '-q'],
      ]) {
        const r = runCli(args);
        assert.equal(r.stderr, '', args[0]);
      }
    } finally {
      removeTree(work);
    }
  });

  it('not on a terminal: nothing on stderr, however long the scan', (t) => {
    if (!have(t, tool('strace', '-V'), "strace (Debian's strace), to slow the scan down")) return;
    if (!have(t, py, cpython('3.13'))) return;
    const r = spawnSync(
      'strace',
      ['-f', '-o', '/dev/null', process.execPath, BIN, 'analyze', stdlibOf(py), '--no-strategies', '--json'],
      { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(r.stdout.startsWith('{'));
  });
});
