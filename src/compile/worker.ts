/**
 * One long-lived compile worker: the target interpreter running python/compile_worker.py. It introduces itself
 * first (version, cache tag, executable: what compile needs to know of the interpreter, so no separate
 * description is run), then answers batches of sources with frames (header + payloads) on its stdout.
 *
 * Light on purpose (no module but errors): the CLI starts a worker before it loads anything else
 * (src/cli/main.ts imports this statically), so that the interpreter's start-up overlaps Node's module loading.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { PyfloppyError } from '../errors.js';

// dist/src/compile/worker.js -> ../../../python/ (as workerScript() in src/python/interpreter.ts, not imported:
// main.ts loads this module for every command line, so it depends on nothing but errors).
const SCRIPT = fileURLToPath(new URL('../../../python/compile_worker.py', import.meta.url));

export type InvalidationMode = 'timestamp' | 'checked-hash' | 'unchecked-hash';

/** What the worker says of its interpreter before anything else. */
export interface WorkerHello {
  /** sys.executable. */
  executable: string;
  /** major.minor.micro */
  version: string;
  /** sys.implementation.cache_tag (null: none). */
  cacheTag: string | null;
}

export interface Frame {
  status: 'compiled' | 'fresh' | 'error';
  error?: string;
  payloads: number[];
  levels?: number[];
}

/** A frame's header, `STATUS\tLEVELS\tSIZES\tERROR` (python/compile_worker.py says why not JSON). */
function parseHeader(text: string): Frame {
  const [status = '', levels = '', sizes = '', error = ''] = text.split('\t');
  const list = (s: string) => (s === '' ? [] : s.split(',').map(Number));
  return {
    status: status as Frame['status'],
    payloads: list(sizes),
    levels: list(levels),
    ...(error === '' ? {} : { error: Buffer.from(error, 'hex').toString('utf8') }),
  };
}

/** The hello frame's header, `hello\tVERSION\tTAG\tEXECUTABLE` (TAG '-': none; EXECUTABLE in hex). */
function parseHello(text: string): WorkerHello | undefined {
  const [word, version = '', tag = '', exe = ''] = text.split('\t');
  if (word !== 'hello' || !/^\d+\.\d+\.\d+$/.test(version)) return undefined;
  return { version, cacheTag: tag === '-' ? null : tag, executable: Buffer.from(exe, 'hex').toString() };
}

/** A file name as the worker reads it: hex of its bytes. */
function hex(s: string | null): string {
  return s === null ? '-' : Buffer.from(s).toString('hex');
}

/** The environment without PYTHON* variables (as -E), but PYTHONHASHSEED. */
function workerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PYTHON') || k === 'PYTHONHASHSEED') env[k] = v;
  }
  return env;
}

type Answer = { frame: Frame; data: Buffer[] };

export class CompileWorker {
  /** The interpreter as it was named (compile() takes a started worker only for the same name). */
  readonly exe: string;
  /** Its introduction; rejects when the worker stops (or cannot start) before it. */
  readonly hello: Promise<WorkerHello>;
  private readonly proc: ChildProcess;
  private buf: Buffer = Buffer.alloc(0);
  /** Chunks read since buf was last joined, and the bytes buf needs before drain() can go on. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private need = 4;
  private greet: ((h: WorkerHello | undefined) => void) | undefined;
  private waiting: Array<(a: Answer) => void> = [];
  private stderr = '';
  private readonly exited: Promise<never>;
  private taken = false;

  constructor(exe: string) {
    this.exe = exe;
    // -s: no user site can change the compiler; -B: the worker's own imports write nothing. No PYTHON*
    // variable (what -E would do) but PYTHONHASHSEED: before 3.11 marshal writes a frozenset in hash order,
    // so compileall's bytes follow the seed it ran with (reproducible builds set PYTHONHASHSEED=0).
    this.proc = spawn(exe, ['-s', '-B', SCRIPT], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: workerEnv(),
    });
    this.proc.stdout!.on('data', (d: Buffer) => this.read(d));
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise<never>((_, reject) => {
      const stopped = (why: string) =>
        reject(new PyfloppyError('EINTERP', `the compile worker stopped (${why}): ${this.stderr.trim()}`));
      this.proc.once('exit', (code) => stopped(`exit ${code}`));
      // Why: a name that is not a program fails here; compile() then says why through the interpreter's description.
      this.proc.once('error', (e) => stopped(e.message));
    });
    // Why: the worker exits when closed after its last batch; that rejection is expected, not an error.
    this.exited.catch(() => undefined);
    const greeted = new Promise<WorkerHello>((resolve, reject) => {
      this.greet = (h) =>
        h === undefined
          ? reject(new PyfloppyError('EINTERP', 'the compile worker did not say hello'))
          : resolve(h);
    });
    this.hello = Promise.race([greeted, this.exited]);
    this.hello.catch(() => undefined);
  }

  /** The worker for one compile run (its process becomes compileall's with the first batch's options). */
  take(): boolean {
    if (this.taken || this.proc.stdin!.writableEnded) return false;
    this.taken = true;
    return true;
  }

  /**
   * Why chunks are joined only once a frame is complete: a large cache arrives in many 64 KiB reads, and
   * joining at every read copied it again each time (a tenth of the main thread's work on a stdlib).
   */
  private read(d: Buffer): void {
    this.pending.push(d);
    this.pendingBytes += d.length;
    if (this.buf.length + this.pendingBytes < this.need) return;
    this.buf =
      this.buf.length === 0 && this.pending.length === 1 ? d : Buffer.concat([this.buf, ...this.pending]);
    this.pending = [];
    this.pendingBytes = 0;
    this.drain();
  }

  private drain(): void {
    for (;;) {
      this.need = 4;
      if (this.buf.length < 4) return;
      const n = this.buf.readUInt32LE(0);
      this.need = 4 + n;
      if (this.buf.length < 4 + n) return;
      const header = this.buf.subarray(4, 4 + n).toString('latin1');
      if (this.greet !== undefined) {
        this.greet(parseHello(header));
        this.greet = undefined;
        this.buf = this.buf.subarray(4 + n);
        continue;
      }
      if (this.waiting.length === 0) return;
      const frame = parseHeader(header);
      const total = frame.payloads.reduce((s, x) => s + x, 0);
      this.need = 4 + n + total;
      if (this.buf.length < 4 + n + total) return;
      const data: Buffer[] = [];
      let at = 4 + n;
      for (const size of frame.payloads) {
        data.push(this.buf.subarray(at, at + size));
        at += size;
      }
      this.buf = this.buf.subarray(at);
      this.waiting.shift()!({ frame, data });
    }
  }

  /**
   * One batch: `flags` are compileall's options that shape its process (see python/compile_worker.py);
   * `onResult` runs for each source in order.
   */
  async run<J extends { path: string; dfile: string | null }>(
    jobs: J[],
    request: { levels: number[]; mode: InvalidationMode | null; force: boolean; flags: string[] },
    onResult: (job: J, frame: Frame, data: Buffer[]) => void,
  ): Promise<void> {
    const results = jobs.map(
      () =>
        new Promise<Answer>((resolve) => {
          this.waiting.push(resolve);
        }),
    );
    const { levels, mode, force, flags } = request;
    // compileall's options that shape its process, for the worker's compileall.main() (hex; '-': none).
    const shape = flags.length === 0 ? '-' : Buffer.from(flags.join('\0')).toString('hex');
    const fields = [levels.join(''), mode ?? '-', force ? '1' : '0', shape];
    for (const j of jobs) fields.push(hex(j.path), hex(j.dfile));
    this.proc.stdin!.write(`${fields.join('\t')}\n`);
    for (let k = 0; k < jobs.length; k++) {
      const r = await Promise.race([results[k]!, this.exited]);
      onResult(jobs[k]!, r.frame, r.data);
    }
  }

  /**
   * No more work: the worker exits at the end of its input. Nothing is waited for: it writes nothing, so
   * this process may exit while the interpreter tears itself down (about 10 ms of a small package's run).
   */
  close(): void {
    if (!this.proc.stdin!.writableEnded) this.proc.stdin!.end();
    this.proc.unref();
    for (const s of [this.proc.stdout, this.proc.stderr]) (s as Socket | null)?.unref();
  }

  /** A worker that will get no work (the interpreter was refused, or compile never ran): gone at once. */
  kill(): void {
    this.close();
    this.proc.kill();
  }

  /** Whoever started it and did not hand it to compile(): stop it (a taken worker is compile's to close). */
  dispose(): void {
    if (!this.taken) this.kill();
  }
}

/** Start a compile worker for `exe` (its interpreter's start-up is most of a small package's compile). */
export function startCompileWorker(exe: string): CompileWorker {
  return new CompileWorker(exe);
}
