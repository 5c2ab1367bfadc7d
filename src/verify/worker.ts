/**
 * One verify worker: a process of the tree's interpreter running python/verify_worker.py, its request on
 * stdin, its answers as JSON lines on stdout (the protocol is described in the worker's header). A worker
 * that hangs longer than the timeout between two answers is killed with its process group.
 */
import { spawn } from 'node:child_process';
import { workerScript } from '../python/interpreter.js';
import type { CheckName, TestDiscovery, WriteAttempt } from './types.js';

/** Everything one worker needs to start, the same for every level. */
export interface Setup {
  exe: string;
  tree: string;
  mode: 'stdlib' | 'path';
  prefix: string | null;
  cwd: string;
  exclude: string[];
  timeoutMs: number;
}

export type Checks = Record<CheckName, boolean | null>;

export type WorkerEvent =
  | { ev: 'ready'; version: string; optimize: number; prefix: string; entries: string[] }
  | { ev: 'fatal'; message: string }
  | { ev: 'found'; modules: string[]; excluded: string[] }
  | { ev: 'start'; module: string }
  | { ev: 'write'; module: string; event: string; path: string; by: 'import' | 'module' }
  | { ev: 'done'; module: string; ok: true; source: boolean; package: boolean; checks: Checks | null }
  | { ev: 'done'; module: string; ok: false; type: string; message: string }
  | ({ ev: 'tests' } & TestDiscovery)
  | { ev: 'end' };

export type Done = Extract<WorkerEvent, { ev: 'done' }>;

export interface WorkerRun {
  ready: Extract<WorkerEvent, { ev: 'ready' }> | undefined;
  fatal: string | undefined;
  found: Extract<WorkerEvent, { ev: 'found' }> | undefined;
  done: Done[];
  writes: WriteAttempt[];
  tests: TestDiscovery[];
  /** The module started and not done when the worker stopped. */
  current: string | null;
  ended: boolean;
  timedOut: boolean;
  /** How the process ended, for people. */
  exit: string;
  stderr: string;
}

/** What a worker does: discover and import, import these modules, or (quietly) discover test packages. */
export type Request =
  { kind: 'discover' } | { kind: 'modules'; modules: string[] } | { kind: 'tests'; packages: string[] };

const OPT_FLAGS = [[], ['-O'], ['-OO']] as const;
/** Runs verify_worker.py as __main__-less code: sys.argv[0] becomes the worker's path, then its arguments. */
const BOOTSTRAP =
  'import sys;sys.argv=sys.argv[1:];p=sys.argv[0];exec(compile(open(p,"rb").read(),p,"exec"),{"__name__":"__pyfloppy_verify__"})';
const STDERR_TAIL = 4000;

function workerArgs(s: Setup, level: number): string[] {
  return [
    '-B',
    ...(s.mode === 'stdlib' ? ['-s'] : ['-I']),
    ...OPT_FLAGS[level]!,
    '-c',
    BOOTSTRAP,
    workerScript('verify_worker.py'),
    s.tree,
    s.mode,
    ...(s.prefix === null ? [] : [s.prefix]),
  ];
}

function requestText(s: Setup, request: Request): string {
  const lines =
    request.kind === 'discover'
      ? ['discover']
      : request.kind === 'modules'
        ? request.modules.map((m) => `module ${m}`)
        : ['quiet', ...request.packages.map((p) => `tests ${p}`)];
  return [...lines, ...s.exclude.map((e) => `exclude ${e}`)].join('\n');
}

function newRun(): WorkerRun {
  return {
    ready: undefined,
    fatal: undefined,
    found: undefined,
    done: [],
    writes: [],
    tests: [],
    current: null,
    ended: false,
    timedOut: false,
    exit: '',
    stderr: '',
  };
}

function record(run: WorkerRun, e: WorkerEvent): void {
  switch (e.ev) {
    case 'ready':
      run.ready = e;
      break;
    case 'fatal':
      run.fatal = e.message;
      break;
    case 'found':
      run.found = e;
      break;
    case 'start':
      run.current = e.module;
      break;
    case 'write':
      run.writes.push({ module: e.module, event: e.event, path: e.path, by: e.by });
      break;
    case 'done':
      run.done.push(e);
      run.current = null;
      break;
    case 'tests': {
      const { ev: _, ...t } = e;
      run.tests.push(t);
      break;
    }
    case 'end':
      run.ended = true;
      break;
  }
}

/** Calls onLine for each complete line of a stream of text. */
function lineReader(onLine: (line: string) => void): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    let nl = buf.indexOf('\n');
    while (nl !== -1) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  };
}

/** One worker process: runs `request` until done, dead or timed out (timeoutMs without an answer). */
export function runWorker(
  s: Setup,
  level: number,
  request: Request,
  onEvent: (e: WorkerEvent) => void = () => undefined,
  timeoutMs = s.timeoutMs,
): Promise<WorkerRun> {
  const run = newRun();
  return new Promise<WorkerRun>((resolve) => {
    const proc = spawnWorker(s, level);
    const timer = idleTimer(timeoutMs, () => {
      run.timedOut = true;
      killGroup(proc);
    });
    timer.arm();
    const onLine = (line: string): void => {
      let e: WorkerEvent;
      try {
        e = JSON.parse(line) as WorkerEvent;
      } catch {
        return;
      }
      if (e.ev !== 'write') timer.arm();
      record(run, e);
      if (e.ev === 'end') timer.clear();
      onEvent(e);
    };
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', lineReader(onLine));
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => {
      run.stderr = (run.stderr + d).slice(-STDERR_TAIL);
    });
    // Why: a worker that dies before reading its request makes this write fail with EPIPE; 'exit' tells.
    proc.stdin.on('error', () => undefined);
    proc.stdin.end(`${requestText(s, request)}\n`);
    whenDone(proc, run, () => {
      timer.clear();
      resolve(run);
    });
  });
}

function spawnWorker(s: Setup, level: number) {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };
  if (s.prefix !== null) env.PYTHONHOME = s.prefix;
  // detached: the worker leads its own process group, so a timeout also ends what its modules started.
  return spawn(s.exe, workerArgs(s, level), {
    cwd: s.cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
}

type WorkerProcess = ReturnType<typeof spawnWorker>;

function killGroup(proc: WorkerProcess): void {
  try {
    if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
  } catch {
    // Why: the group is already gone.
  }
}

/** A timer that fires after `ms` without a new arm(). */
function idleTimer(ms: number, onTimeout: () => void): { arm(): void; clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  return {
    arm: () => {
      clearTimeout(timer);
      timer = setTimeout(onTimeout, ms);
    },
    clear: () => clearTimeout(timer),
  };
}

/** Call `done` once, when the worker failed to start, or exited and its pipes closed. */
function whenDone(proc: WorkerProcess, run: WorkerRun, done: () => void): void {
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    done();
  };
  proc.on('error', (err) => {
    run.exit = err.message;
    finish();
  });
  proc.on('exit', (code, signal) => {
    run.exit = signal !== null ? `killed by ${signal}` : `exit status ${code}`;
    // Children an imported module left behind go with the worker; the pipes then close.
    killGroup(proc);
    // Why: a grandchild that left the group could hold the pipes open; do not wait for it forever.
    setTimeout(() => {
      proc.stdout.destroy();
      proc.stderr.destroy();
      finish();
    }, 1000).unref();
  });
  proc.on('close', finish);
}

export function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .pop() ?? ''
  );
}
