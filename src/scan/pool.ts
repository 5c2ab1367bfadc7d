/**
 * A small pool of scan worker threads (src/scan/worker.ts), created only for trees large enough to pay for
 * it, shared by the scan and the identity comparison of one model, and closed after.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Inspection } from '../check/inspect.js';
import type { RootIdentity } from '../fsops/anchored.js';
import type { ChainOp, ChainOutcome } from '../fsops/chain.js';
import type { CompareResult } from './compare.js';
import type { TableTransfer } from './table.js';
import type { DirJob, ScanProblem } from './walk.js';

type WirePath = string | Uint8Array;

export type WorkerRequest =
  | { op: 'init'; skipDirs: string[] }
  | { op: 'walk'; id: number; jobs: Array<Omit<DirJob, 'path'> & { path: WirePath }>; maxDirs: number }
  | { op: 'compare'; id: number; pairs: Array<[WirePath, WirePath, number]>; fingerprints: boolean }
  | { op: 'deflate'; id: number; paths: WirePath[]; level: number }
  | { op: 'link'; id: number; chains: ChainOp[][]; roots: RootIdentity[] }
  | { op: 'inspect'; id: number; items: Array<[WirePath, WirePath | null]> };

export type WorkerReply =
  | {
      id: number;
      op: 'walk';
      table: TableTransfer;
      leftovers: DirJob[];
      problems: ScanProblem[];
      apparentBytes: number;
    }
  | { id: number; op: 'compare'; results: CompareResult[] }
  | { id: number; op: 'deflate'; sizes: number[] }
  | { id: number; op: 'link'; outcomes: ChainOutcome[][] }
  | { id: number; op: 'inspect'; inspections: Inspection[] };

type Pending = { resolve: (r: WorkerReply) => void; reject: (e: Error) => void };

export class WorkerPool {
  private readonly workers: Worker[];
  /** Requests sent and not yet answered, per worker. */
  private readonly load: number[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(size: number) {
    const url = new URL('./worker.js', import.meta.url);
    this.load = new Array<number>(size).fill(0);
    this.workers = Array.from({ length: size }, (_, k) => {
      const w = new Worker(url);
      w.on('message', (r: WorkerReply) => {
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        // Why: a worker waiting for work must not keep the process alive, one at work must.
        if (--this.load[k]! === 0) w.unref();
        p?.resolve(r);
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      w.unref();
      return w;
    });
  }

  get size(): number {
    return this.workers.length;
  }

  /** Send every worker the same setup message (it is handled before any later request). */
  broadcast(msg: WorkerRequest): void {
    for (const w of this.workers) w.postMessage(msg);
  }

  /**
   * Run one request on the least loaded worker. Requests queue in the worker, so a caller may keep two per
   * worker in flight and a worker never waits for the main thread between two batches.
   */
  request<R extends WorkerReply>(make: (id: number) => WorkerRequest): Promise<R> {
    let k = 0;
    for (let j = 1; j < this.workers.length; j++) if (this.load[j]! < this.load[k]!) k = j;
    const w = this.workers[k]!;
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: WorkerReply) => void, reject });
      if (this.load[k]!++ === 0) w.ref();
      w.postMessage(make(id));
    });
  }

  /**
   * Run `items` as requests of `size` items each, all sent at once (workers queue them, so none waits for
   * the main thread between two batches), and return the per-item results in item order.
   */
  async mapBatches<T, U, R extends WorkerReply>(
    items: readonly T[],
    size: number,
    make: (id: number, batch: T[]) => WorkerRequest,
    results: (reply: R) => readonly U[],
  ): Promise<U[]> {
    const out = new Array<U>(items.length);
    const requests: Array<Promise<void>> = [];
    for (let s = 0; s < items.length; s += size) {
      const batch = items.slice(s, s + size);
      requests.push(
        this.request<R>((id) => make(id, batch)).then((r) => {
          results(r).forEach((u, k) => {
            out[s + k] = u;
          });
        }),
      );
    }
    await Promise.all(requests);
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Worker threads worth starting on this machine: one per core, at most 4; 0 on a single core. */
export function defaultWorkerCount(): number {
  const n = os.availableParallelism();
  return n <= 1 ? 0 : Math.min(n, 4);
}

/** A pool made on first use, so that small trees never start a thread. */
export class LazyPool {
  private pool: WorkerPool | undefined;
  constructor(readonly workers: number) {}

  get(): WorkerPool | undefined {
    if (this.workers <= 0) return undefined;
    this.pool ??= new WorkerPool(this.workers);
    return this.pool;
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
  }
}
