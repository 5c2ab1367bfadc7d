/**
 * Ask the target interpreter whether sources compile (python/compiles.py): the only way to tell a source
 * that was left uncompiled on purpose (it cannot be compiled, so importing it fails and nothing is written)
 * from one whose cache is missing. Read-only.
 */
import { spawnSync } from 'node:child_process';
import { PyfloppyError } from '../errors.js';
import { workerScript } from './interpreter.js';

/** For each source: null when it compiles, else the interpreter's error ('SyntaxError: invalid syntax'). */
export function compileErrors(exe: string, sources: ReadonlyArray<string | Buffer>): Array<string | null> {
  if (sources.length === 0) return [];
  const input = sources.map((s) => Buffer.from(s).toString('base64')).join('\n');
  // -E -s: the environment and the user's site must not change what compiles; -B: never write a cache.
  const r = spawnSync(exe, ['-E', '-s', '-B', workerScript('compiles.py')], {
    input: `${input}\n`,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 600_000,
  });
  const lines = r.status === 0 ? r.stdout.split('\n').filter((l) => l !== '') : [];
  if (lines.length !== sources.length) {
    const why = (r.stderr ?? '').trim().split('\n').pop() ?? r.error?.message ?? '';
    throw new PyfloppyError(
      'EINTERP',
      `${exe} could not check which sources compile${why ? `: ${why}` : ''}`,
    );
  }
  return lines.map((l) => {
    const v = JSON.parse(l) as { ok: boolean; error?: string };
    return v.ok ? null : (v.error ?? 'does not compile');
  });
}
