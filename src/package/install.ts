/**
 * What installing a wheel adds: the caches an installer compiles for its sources. Measured, when an
 * interpreter is given, by compiling each source of the wheel's site-packages part with it, as py_compile
 * does (compile() with dont_inherit, the installed path as co_filename, a timestamp header), at each
 * optimization level; the bytes are counted, nothing is written. Without an interpreter, not measured.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PyfloppyError } from '../errors.js';
import { zipPlan, readZip } from './zip.js';

export interface InstallCaches {
  measured: boolean;
  note: string;
  /** The interpreter that compiled, its cache tag and the site-packages named in co_filename. */
  python?: { executable: string; cacheTag: string; purelib: string };
  /** Per level: caches written and their bytes; sources that do not compile are counted apart. */
  levels: Array<{ level: 0 | 1 | 2; files: number; apparentBytes: number }>;
  uncompilable: number;
}

/** Reads records (a JSON line, then that many bytes) and prints per-level totals as one JSON line. */
const SCRIPT = String.raw`
import sys, json, sysconfig, importlib.util, importlib._bootstrap_external as be
purelib = sysconfig.get_paths()['purelib']
tot = [[0, 0], [0, 0], [0, 0]]
bad = 0
r = sys.stdin.buffer
while True:
    line = r.readline()
    if not line:
        break
    rec = json.loads(line)
    data = r.read(rec['size'])
    for level in (0, 1, 2):
        try:
            code = compile(data, purelib + '/' + rec['path'], 'exec', dont_inherit=True, optimize=level)
        except Exception:
            bad += 1
            break
        tot[level][0] += 1
        tot[level][1] += len(be._code_to_timestamp_pyc(code, 0, len(data)))
print(json.dumps({'levels': tot, 'bad': bad, 'tag': sys.implementation.cache_tag, 'purelib': purelib, 'executable': sys.executable}))
`;

export const NOT_MEASURED: InstallCaches = {
  measured: false,
  note: 'not measured: give --python to compile the wheel’s sources with that interpreter',
  levels: [],
  uncompilable: 0,
};

export async function installCaches(file: string, python: string): Promise<InstallCaches> {
  const child = spawn(python, ['-I', '-c', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.resume();
  // Why: an interpreter that exits early closes its stdin; the exit status tells what happened.
  child.stdin.on('error', () => undefined);
  const exited = once(child, 'close');
  const failed = once(child, 'error').then(([e]) => Promise.reject(interpError(python, e as Error)));
  failed.catch(() => undefined);
  await Promise.race([feedSources(file, child.stdin), failed]);
  const [code] = (await Promise.race([exited, failed])) as [number];
  if (code !== 0) throw interpError(python, new Error(`it exited with status ${code}`));
  return parseResult(Buffer.concat(out).toString('utf8'));
}

/** Every .py of the wheel's site-packages part written to the interpreter's stdin. */
async function feedSources(file: string, stdin: NodeJS.WritableStream): Promise<void> {
  const plan = await zipPlan(file, 'wheel');
  await readZip(file, plan, async (h, body) => {
    const rel = h.name.startsWith('site-packages/') ? h.name.slice('site-packages/'.length) : '';
    if (h.type !== 'file' || !rel.endsWith('.py')) {
      for await (const _ of body);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c);
    const data = Buffer.concat(chunks);
    if (!stdin.write(`${JSON.stringify({ path: rel, size: data.length })}\n`)) await once(stdin, 'drain');
    if (!stdin.write(data)) await once(stdin, 'drain');
  });
  stdin.end();
}

function parseResult(text: string): InstallCaches {
  const r = JSON.parse(text) as {
    levels: Array<[number, number]>;
    bad: number;
    tag: string;
    purelib: string;
    executable: string;
  };
  return {
    measured: true,
    note: 'measured: each source compiled by the interpreter at levels 0, 1 and 2 as py_compile does (co_filename under its site-packages), bytes counted, nothing written. pip compiles level 0 by default; levels 1 and 2 appear when python -O or -OO imports the modules, or when an installer is asked for them',
    python: { executable: r.executable, cacheTag: r.tag, purelib: r.purelib },
    levels: r.levels.map(([files, bytes], level) => ({
      level: level as 0 | 1 | 2,
      files,
      apparentBytes: bytes,
    })),
    uncompilable: r.bad,
  };
}

function interpError(python: string, e: Error): PyfloppyError {
  return new PyfloppyError('EINTERP', `cannot compile the wheel's sources with ${python}: ${e.message}`, {
    hint: 'give --python the full path of a Python 3 interpreter',
  });
}
