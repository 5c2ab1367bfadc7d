/**
 * README, analyze: "on a terminal, a progress line on stderr once a scan takes more than a second; nothing
 * when stderr is not a terminal". On a real pseudo-terminal (util-linux `script`), with the scan slowed
 * past that second by tracing its system calls (strace): the line is drawn at the start of the line,
 * counts that only grow, at most ten redraws a second, and cleared at the end; through a pipe, nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { BIN } from './helpers/cli.js';
import { have } from './helpers/need.js';
import { cpython, interpreter, interpreters, stdlibOf } from './helpers/python.js';

const py = interpreter('3.13');
/** The terminal's escape character, and a control sequence's introducer as a regular expression. */
const ESC = '\x1b';
const CSI = `${ESC}\\[`;
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
      r.stdout.replace(new RegExp(`${CSI}[0-9]*[A-Za-z]|scanning: [^${ESC}]*`, 'g'), ''),
      '',
      'nothing else',
    );
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
