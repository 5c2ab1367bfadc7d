// Build pyfloppy's native helper (native/at.c -> build/at.node): openat, renameat, linkat, unlinkat and
// mkdirat for src/fsops/at.ts. Run at install and by `npm run build`. It needs a C compiler (`cc`, or $CC)
// and Node's headers (include/node beside the node binary, as Node's tarballs and Debian's nodejs ship
// them); without either, pyfloppy works the same through /proc/self/fd, slower, and this says so.
// Why no node-gyp: one C file with no dependency; node-gyp would fetch headers from the network.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.join(root, 'build', 'at.node');
const source = path.join(root, 'native', 'at.c');

function headers() {
  const candidates = [
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((d) => fs.existsSync(path.join(d, 'node_api.h')));
}

function build() {
  if (process.platform !== 'linux') return 'only Linux has what it is for (/proc/self/fd and *at calls)';
  const include = headers();
  if (include === undefined) return "Node's headers (node_api.h) were not found";
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const cc = process.env.CC || 'cc';
  try {
    const flags = ['-O2', '-shared', '-fPIC', '-Wall', '-DNODE_GYP_MODULE_NAME=pyfloppy_at'];
    execFileSync(cc, [...flags, `-I${include}`, source, '-o', tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
    fs.renameSync(tmp, out);
    return null;
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const why =
      e.code === 'ENOENT' ? `no C compiler (${cc})` : `${cc} failed: ${String(e.stderr ?? e.message).trim()}`;
    return why.split('\n')[0];
  }
}

const fresh = fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(source).mtimeMs;
const why = fresh ? null : build();
if (why !== null)
  console.error(
    `pyfloppy: native helper not built: ${why}; file operations go through /proc/self/fd (slower)`,
  );
