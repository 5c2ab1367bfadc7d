/**
 * The file system a container sees: layers applied in order onto one tree of names. A whiteout `.wh.NAME`
 * removes NAME (and what is below it) as earlier layers left it; an opaque directory (`.wh..wh..opq`) hides
 * everything earlier layers put in it; a hard link member is a second name of one inode. Nodes (names) and
 * inodes (contents) are kept in flat arrays; an inode whose last name goes is shipped but unreachable:
 * `hiddenBy` records the layer that hid it.
 */
import { PyfloppyError } from '../errors.js';

export const N_FILE = 0;
export const N_DIR = 1;
export const N_SYMLINK = 2;
export const N_OTHER = 3;

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

export interface InodeInit {
  type: number;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
}

export class ImageTree {
  // Nodes: one per name in the tree (removed names stay as dead slots: parent -1, not reachable).
  readonly parent: number[] = [-1];
  readonly name: string[] = [''];
  readonly inode: number[] = [0];
  /** Children of each directory node by name; null for other nodes. */
  readonly kids: Array<Map<string, number> | null> = [new Map()];
  /** Layer that wrote the name. */
  readonly nodeLayer: number[] = [0];
  // Inodes.
  readonly type: number[] = [N_DIR];
  readonly size: number[] = [0];
  readonly mode: number[] = [0o755];
  readonly uid: number[] = [0];
  readonly gid: number[] = [0];
  readonly mtimeMs: number[] = [0];
  /** Layer whose tar holds the inode's bytes. */
  readonly layer: number[] = [0];
  /** Names reaching the inode in the tree now. */
  readonly names: number[] = [1];
  /** The layer that removed the inode's last name; -1 while it is reachable. */
  readonly hiddenBy: number[] = [-1];
  /** A symlink's target. */
  readonly linkTarget = new Map<number, string>();
  current = 0;

  /** `noun`: what the messages call the archive ('image', 'package'). */
  constructor(
    readonly source: string,
    readonly noun = 'image',
  ) {}

  /** Path components of a member name: `./` and trailing slashes dropped; `..` or absolute refused. */
  parts(raw: string): string[] {
    if (raw.startsWith('/') || raw.split('/').includes('..'))
      throw unsafe(
        this.source,
        `member ${JSON.stringify(raw)} leaves the ${this.noun} (absolute or with ..)`,
        this.noun,
      );
    return raw.split('/').filter((p) => p !== '' && p !== '.');
  }

  /** The node at a path, or -1. */
  lookup(parts: readonly string[]): number {
    let n = 0;
    for (const p of parts) {
      const k = this.kids[n]?.get(p);
      if (k === undefined) return -1;
      n = k;
    }
    return n;
  }

  /** Apply a whiteout member (a name starting `.wh.`); false when the name is not one. */
  whiteout(parts: readonly string[]): boolean {
    const last = parts[parts.length - 1] ?? '';
    if (!last.startsWith(WHITEOUT)) return false;
    const dir = this.mkdirs(parts.slice(0, -1));
    if (last === OPAQUE) {
      for (const k of [...this.kids[dir]!.values()]) this.removeOlder(k);
    } else {
      const k = this.kids[dir]!.get(last.slice(WHITEOUT.length));
      if (k !== undefined) this.removeOlder(k);
    }
    return true;
  }

  /** Add a file, directory, symlink or other member; returns its inode. */
  add(parts: readonly string[], init: InodeInit, target?: string): number {
    if (parts.length === 0) {
      this.setInode(0, init);
      return 0;
    }
    const dir = this.mkdirs(parts.slice(0, -1));
    const name = parts[parts.length - 1]!;
    const old = this.kids[dir]!.get(name);
    if (old !== undefined && init.type === N_DIR && this.type[this.inode[old]!] === N_DIR) {
      this.setInode(this.inode[old]!, init);
      return this.inode[old]!;
    }
    if (old !== undefined) this.remove(old);
    const ino = this.newInode(init);
    if (target !== undefined) this.linkTarget.set(ino, target);
    this.newNode(dir, name, ino, init.type === N_DIR);
    return ino;
  }

  /** A hard link member: a new name for the inode of `target` (a path in the image). */
  link(parts: readonly string[], target: string): void {
    const t = this.lookup(this.parts(target));
    if (t === -1 || this.type[this.inode[t]!] === N_DIR)
      throw unsafe(
        this.source,
        `hard link ${parts.join('/')} -> ${target}: no such file in the ${this.noun}`,
        this.noun,
      );
    const ino = this.inode[t]!;
    const dir = this.mkdirs(parts.slice(0, -1));
    const name = parts[parts.length - 1]!;
    const old = this.kids[dir]!.get(name);
    if (old === t) return;
    if (old !== undefined) this.remove(old);
    this.names[ino]!++;
    this.newNode(dir, name, ino, false);
  }

  /** The directory at a path, made (as a directory of this layer) where missing. */
  private mkdirs(parts: readonly string[]): number {
    let n = 0;
    for (const p of parts) {
      let k = this.kids[n]!.get(p);
      if (k !== undefined && this.kids[k] === null) {
        this.remove(k);
        k = undefined;
      }
      if (k === undefined) {
        const ino = this.newInode({ type: N_DIR, size: 0, mode: 0o755, uid: 0, gid: 0, mtimeMs: 0 });
        k = this.newNode(n, p, ino, true);
      }
      n = k;
    }
    return n;
  }

  /** Remove what earlier layers put at node k: the node itself if older, else only older names below it. */
  private removeOlder(k: number): void {
    if (this.nodeLayer[k]! < this.current) {
      this.remove(k);
      return;
    }
    for (const c of [...(this.kids[k]?.values() ?? [])]) this.removeOlder(c);
  }

  /** Remove a node and everything below it. */
  private remove(k: number): void {
    for (const c of this.kids[k]?.values() ?? []) this.remove(c);
    const p = this.parent[k]!;
    this.kids[p]?.delete(this.name[k]!);
    this.parent[k] = -1;
    const ino = this.inode[k]!;
    if (--this.names[ino]! === 0) this.hiddenBy[ino] = this.current;
  }

  private newNode(dir: number, name: string, ino: number, isDir: boolean): number {
    const k = this.parent.length;
    this.parent.push(dir);
    this.name.push(name);
    this.inode.push(ino);
    this.kids.push(isDir ? new Map() : null);
    this.nodeLayer.push(this.current);
    this.kids[dir]!.set(name, k);
    return k;
  }

  private newInode(init: InodeInit): number {
    const i = this.type.length;
    this.type.push(init.type);
    this.size.push(init.size);
    this.mode.push(init.mode);
    this.uid.push(init.uid);
    this.gid.push(init.gid);
    this.mtimeMs.push(init.mtimeMs);
    this.layer.push(this.current);
    this.names.push(1);
    this.hiddenBy.push(-1);
    return i;
  }

  private setInode(i: number, init: InodeInit): void {
    this.mode[i] = init.mode;
    this.uid[i] = init.uid;
    this.gid[i] = init.gid;
    this.mtimeMs[i] = init.mtimeMs;
  }
}

export function unsafe(source: string, why: string, noun = 'image'): PyfloppyError {
  return new PyfloppyError(noun === 'image' ? 'EIMAGE' : 'EPACKAGE', `${source}: ${why}`, {
    hint: `pyfloppy refuses members outside the ${noun}; the archive may be hostile`,
  });
}
