/**
 * The image's Python directories as a scan result: the EntryTable the model works from, built from the
 * final tree (each root walked parents first), with contents answered from what the read kept (digests
 * for byte identity, small texts for RECORD). Archives have no blocks: allocated bytes are 0.
 */
import { type Inspection, type PycFacts, type SourceState, withSource } from '../check/inspect.js';
import type { ScannedRoot, ScanResult } from '../scan/scan.js';
import { EntryTable, type MemberContents, TYPE_FILE, TYPE_SYMLINK } from '../scan/table.js';
import type { ImageRead } from './read.js';
import { findPythonRoots, type FoundRoot } from './roots.js';
import { N_DIR, type ImageTree } from './tree.js';

const S_IF = [0o100000, 0o040000, 0o120000, 0];

/** The tree's directory lister for findPythonRoots(). */
function treeLister(tree: ImageTree): (rel: string) => string[] | undefined {
  return (rel) => {
    const n = tree.lookup(rel === '' ? [] : rel.split('/'));
    if (n === -1 || tree.kids[n] === null) return undefined;
    return [...tree.kids[n]!.keys()];
  };
}

export function imagePythonRoots(tree: ImageTree): FoundRoot[] {
  return findPythonRoots(treeLister(tree));
}

export function imageScan(read: ImageRead, roots: FoundRoot[], label: string): ScanResult {
  const tree = read.tree;
  const t = new EntryTable(4096);
  const nodeEntry = new Int32Array(tree.parent.length).fill(-1);
  const entryNode: number[] = [];
  const scanned: ScannedRoot[] = [];
  roots.forEach((r, k) => {
    const node = tree.lookup(r.rel === '' ? [] : r.rel.split('/'));
    const entry = addTree(t, tree, node, k, `/${r.rel}`, nodeEntry, entryNode);
    scanned.push({
      path: `${label}:/${r.rel}`,
      realPath: `/${r.rel}`,
      labels: [r.label],
      entry,
      insideRoot: -1,
      installedAt: `/${r.rel}`,
    });
  });
  linkInodes(t);
  t.contents = new ImageContents(read, t, nodeEntry, entryNode);
  return { table: t, roots: scanned, problems: [] };
}

/** Append node and everything below it, parents first; returns the node's entry. */
function addTree(
  t: EntryTable,
  tree: ImageTree,
  node: number,
  root: number,
  rootName: string,
  nodeEntry: Int32Array,
  entryNode: number[],
): number {
  const stack: Array<[number, number]> = [[node, -1]];
  let first = -1;
  while (stack.length > 0) {
    const [n, parent] = stack.pop()!;
    const i = addEntry(t, tree, n, parent, root);
    t.name[i] = parent === -1 ? rootName : tree.name[n]!;
    nodeEntry[n] = i;
    entryNode[i] = n;
    if (first === -1) first = i;
    const kids = tree.kids[n];
    if (kids !== null && kids !== undefined) for (const k of [...kids.values()].reverse()) stack.push([k, i]);
  }
  return first;
}

function addEntry(t: EntryTable, tree: ImageTree, n: number, parent: number, root: number): number {
  const i = t.add();
  const ino = tree.inode[n]!;
  const type = tree.type[ino]!;
  t.parent[i] = parent;
  t.root[i] = root;
  t.type[i] = type;
  t.dev[i] = 1;
  t.ino[i] = ino + 1;
  t.size[i] = tree.size[ino]!;
  t.blocks[i] = 0;
  t.nlink[i] = type === N_DIR ? 2 : tree.names[ino]!;
  t.mode[i] = S_IF[type]! | (tree.mode[ino]! & 0o7777);
  t.uid[i] = tree.uid[ino]!;
  t.gid[i] = tree.gid[ino]!;
  t.mtimeMs[i] = tree.mtimeMs[ino]!;
  t.firstLink[i] = -1;
  return i;
}

/** Second and later names of an inode point at its first (as the directory scan's linkInodes does). */
function linkInodes(t: EntryTable): void {
  const first = new Map<number, number>();
  for (let i = 0; i < t.count; i++) {
    if (t.nlink[i]! < 2 || t.type[i] === N_DIR) continue;
    const f = first.get(t.ino[i]!);
    if (f === undefined) first.set(t.ino[i]!, i);
    else t.firstLink[i] = f;
  }
}

/** Contents of an image's entries, from what the stream kept. */
class ImageContents implements MemberContents {
  constructor(
    private readonly read: ImageRead,
    private readonly t: EntryTable,
    private readonly nodeEntry: Int32Array,
    private readonly entryNode: number[],
  ) {}

  digest(i: number): Buffer | undefined {
    return this.read.digest.get(this.t.ino[i]! - 1);
  }

  text(i: number): Buffer | undefined {
    return this.read.text.get(this.t.ino[i]! - 1);
  }

  layer(i: number): number {
    return this.read.tree.layer[this.t.ino[i]! - 1]! + 1;
  }

  filename(i: number): string | undefined {
    return this.read.filename.get(this.t.ino[i]! - 1);
  }

  inspect(cache: number, source: number): Inspection {
    const facts = this.read.facts.get(this.t.ino[cache]! - 1);
    if (facts === undefined)
      return {
        ok: false,
        reason: 'unreadable',
        code: 'EIO',
        message: 'not inspected while reading the image',
      };
    if (!facts.ok) return facts;
    return withSource(facts, this.sourceState(source, facts));
  }

  /** A source as importlib's validation sees it: the final tree's entry, its hash as computed while read. */
  private sourceState(source: number, facts: Extract<PycFacts, { ok: true }>): SourceState {
    const t = this.t;
    if (source === -2) return { state: 'not-given' };
    if (source === -1) return { state: 'missing' };
    if (t.type[source] === TYPE_SYMLINK) return { state: 'symlink' };
    if (t.type[source] !== TYPE_FILE) return { state: 'missing' };
    const base = {
      state: 'regular' as const,
      mtime: Math.floor(t.mtimeMs[source]! / 1000) >>> 0,
      size: t.size[source]!,
    };
    if (facts.expectedHash === undefined) return base;
    const h = this.read.sourceHashes.get(t.ino[source]! - 1)?.get(facts.magic);
    if (h === undefined) return { state: 'unreadable', code: 'ENOTHASHED' };
    return { ...base, hashMatches: h.equals(facts.expectedHash) };
  }

  child(dir: number, name: string): number {
    const k = this.read.tree.kids[this.entryNode[dir]!]?.get(name);
    return k === undefined ? -1 : this.nodeEntry[k]!;
  }
}
