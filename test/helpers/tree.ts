/** Fixture trees built by code in temporary directories (no committed binary blobs). */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temporary directory (mode 0755 so that a test can run a command as another user in it). */
export function tempDir(prefix = 'pyfloppy-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, 0o755);
  return d;
}

export function removeTree(d: string): void {
  // Restore permissions first: a test may have made a directory unreadable.
  spawnSync('chmod', ['-R', 'u+rwX', d]);
  fs.rmSync(d, { recursive: true, force: true });
}

/** Write files: keys are relative paths, values contents. Directories are created as needed. */
export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}

/** du's own figures for a tree: apparent bytes (du --apparent-size -sb) and allocated bytes (du -sB1). */
export function duBytes(...roots: string[]): { apparent: number; allocated: number } {
  const run = (args: string[]): number => {
    const r = spawnSync('du', [...args, ...roots], { encoding: 'utf8' });
    // With -c, du's last line is the total over all roots, each inode counted once.
    const lines = r.stdout.trim().split('\n');
    return Number(lines[lines.length - 1]!.split('\t')[0]);
  };
  return { apparent: run(['--apparent-size', '-sbc']), allocated: run(['-sB1', '-c']) };
}
