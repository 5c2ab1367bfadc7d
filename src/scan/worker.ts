/**
 * A scan worker thread: walks batches of directories, compares candidate file pairs, measures compression and
 * inspects bytecode caches for the main thread, so that every core does stat and read system calls. Read-only
 * except for the link chains of dedup, which go through src/fsops, relative to directories verified by anchors.
 */
import { parentPort } from 'node:worker_threads';
import { inspectPyc } from '../check/inspect.js';
import { anchoredCalls, TreeAnchors } from '../fsops/anchored.js';
import { runChain } from '../fsops/chain.js';
import { realCalls } from '../fsops/link.js';
import { compareFiles, deflatedSize } from './compare.js';
import type { WorkerReply, WorkerRequest } from './pool.js';
import { EntryTable } from './table.js';
import { type DirJob, walkBatch } from './walk.js';

const port = parentPort!;
let skipDirs = new Set<string>();
let seenDirs = new Set<string>();

const asPath = (p: string | Uint8Array): string | Buffer =>
  typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);

type Request<Op extends WorkerRequest['op']> = Extract<WorkerRequest, { op: Op }>;

port.on('message', (msg: WorkerRequest) => {
  switch (msg.op) {
    case 'init':
      skipDirs = new Set(msg.skipDirs);
      seenDirs = new Set();
      return;
    case 'walk':
      return walk(msg);
    case 'link':
      return link(msg);
    case 'inspect':
      return inspect(msg);
    case 'deflate':
      return deflate(msg);
    default:
      return compare(msg);
  }
});

function walk(msg: Request<'walk'>): void {
  const jobs: DirJob[] = msg.jobs.map((j) => ({ ...j, path: asPath(j.path) }));
  const seg = walkBatch(jobs, msg.maxDirs, skipDirs, seenDirs);
  const table = seg.table.toTransfer();
  const reply: WorkerReply = {
    id: msg.id,
    op: 'walk',
    table,
    leftovers: seg.leftovers,
    problems: seg.problems,
    apparentBytes: seg.apparentBytes,
  };
  // Each array was sliced into its own ArrayBuffer: moving them costs nothing.
  port.postMessage(reply, EntryTable.buffers(table));
}

function link(msg: Request<'link'>): void {
  // The only writing a worker does, through src/fsops like every write.
  const chains = msg.chains.map((ops) =>
    ops.map((op) => ({ ...op, survivorPath: asPath(op.survivorPath), targetPath: asPath(op.targetPath) })),
  );
  // Each batch opens its own anchors of the roots (expected identities from the main thread) and closes
  // them after: descriptors belong to the process and a terminated thread would not close them.
  const anchors = new TreeAnchors(msg.roots);
  try {
    const calls = anchoredCalls(anchors, realCalls);
    const reply: WorkerReply = {
      id: msg.id,
      op: 'link',
      outcomes: chains.map((ops) => runChain(ops, false, calls)),
    };
    port.postMessage(reply);
  } finally {
    anchors.close();
  }
}

function inspect(msg: Request<'inspect'>): void {
  const reply: WorkerReply = {
    id: msg.id,
    op: 'inspect',
    inspections: msg.items.map(([pyc, src]) => inspectPyc(asPath(pyc), src === null ? null : asPath(src))),
  };
  port.postMessage(reply);
}

function deflate(msg: Request<'deflate'>): void {
  const reply: WorkerReply = {
    id: msg.id,
    op: 'deflate',
    sizes: msg.paths.map((p) => deflatedSize(asPath(p), msg.level)),
  };
  port.postMessage(reply);
}

function compare(msg: Request<'compare'>): void {
  const results = msg.pairs.map(([a, b, size]) => compareFiles(asPath(a), asPath(b), size, msg.fingerprints));
  const reply: WorkerReply = { id: msg.id, op: 'compare', results };
  port.postMessage(reply);
}
