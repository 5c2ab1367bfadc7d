/**
 * --help as a user reads it on an 80-column terminal (or a pipe): prose reflowed into paragraphs, table rows
 * continued under their description column, nothing cut mid-sentence at the author's line breaks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layout, unwrap } from '../src/cli/help.js';
import { buildProgram } from '../src/cli/program.js';
import { runCli } from './helpers/cli.js';

const program = await buildProgram({ stdout: process.stdout, stderr: process.stderr });

describe('help layout', () => {
  it('rejoins prose lines and table continuations, keeps lists and blank lines', () => {
    const text = [
      'First line of a paragraph',
      'that goes on here.',
      '',
      '- an item',
      '  continued',
      '- another item',
      '  term      the description',
      '            continued under it',
      '  other     short',
    ].join('\n');
    assert.deepEqual(unwrap(text), [
      'First line of a paragraph that goes on here.',
      '',
      '- an item continued',
      '- another item',
      '  term      the description continued under it',
      '  other     short',
    ]);
    assert.equal(
      layout('  term      one two three four five six', 26),
      '  term      one two three\n            four five six',
    );
  });

  const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();
  for (const command of ['analyze', 'dedup', 'check', 'compile', 'plan', 'fit', 'apply', 'verify', 'split']) {
    it(`${command} --help: the whole description, argument and option help, fitted to 80 columns`, () => {
      const r = runCli([command, '--help']);
      assert.equal(r.status, 0, r.stderr);
      // Up to the examples and exit status, which are printed as written.
      const body = r.stdout.split(/\n(?:Examples|Example|Exit status)/)[0]!;
      const long = body.split('\n').filter((l) => l.length > 80);
      assert.deepEqual(long, []);
      // And there is a help to fit: the usage line, a description of some length, the options.
      assert.match(r.stdout, new RegExp(`^Usage: pyfloppy ${command} `));
      assert.match(body, /^Options:$/m);
      assert.match(body, /^ {2}-h, --help +display help for command$/m);
      assert.ok(
        body.split('\n').filter((l) => /\w{3}/.test(l)).length >= 10,
        `${command} --help is short:\n${r.stdout}`,
      );
      // Every word as written, in order: the description, each argument's and each option's (a layout that
      // cut or dropped a line would leave a gap; only the line breaks may differ).
      const cmd = program.commands.find((c) => c.name() === command)!;
      const shown = squash(r.stdout);
      for (const text of [
        cmd.description(),
        ...cmd.registeredArguments.map((a) => a.description),
        ...cmd.options.map((o) => o.description),
      ])
        assert.ok(shown.includes(squash(text)), `${command} --help lacks: ${squash(text)}\n${r.stdout}`);
    });
  }
});
