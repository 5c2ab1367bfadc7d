/**
 * Container images built with the real tools (umoci for an OCI layout, skopeo to convert it, GNU tar for a
 * hand-made layer), from a copy of a few packages of a pyenv stdlib, in a temp dir. Layers:
 *   1. COPY: os, abc (frozen in 3.11+), email with its caches, json sources only, a dist-info with RECORD, a
 *      hard link, a cache of another interpreter version;
 *   2. RUN find -name '*.opt-2.pyc' -delete: whiteouts (umoci writes one per removed file);
 *   3. RUN compileall json: caches of a later step than their sources;
 *   4. an opaque directory (email/mime replaced whole: `.wh..wh..opq`), added as a tar made by GNU tar.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const IMAGE_TOOLS = ['umoci', 'skopeo', 'tar'] as const;

export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd: string, args: string[], cwd?: string): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(cwd === undefined ? {} : { cwd }) });
}

function copy(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true, preserveTimestamps: true });
}

export interface BuiltImage {
  /** The OCI layout directory and its reference (`DIR:img`). */
  layout: string;
  ref: string;
  /** umoci unpack of the image: the root file system directory. */
  rootfs: string;
}

/** Build the four-layer image from `stdlib` (a pythonX.Y directory) and `other` (a cache of another version). */
export function buildImage(work: string, stdlib: string, other: string): BuiltImage {
  const layout = path.join(work, 'oci');
  const ref = `${layout}:img`;
  const bundle = path.join(work, 'bundle');
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', ref]);
  run('umoci', ['unpack', '--rootless', '--image', ref, bundle]);
  const py = path.join(bundle, 'rootfs', 'usr', 'lib', path.basename(stdlib));
  firstLayer(stdlib, py, other);
  repack(ref, bundle, `COPY python /usr/lib/${path.basename(stdlib)}`);
  for (const f of walk(py)) if (f.endsWith('.opt-2.pyc')) fs.rmSync(f);
  repack(ref, bundle, "/bin/sh -c find / -name '*.opt-2.pyc' -delete");
  copy(path.join(stdlib, 'json', '__pycache__'), path.join(py, 'json', '__pycache__'));
  repack(ref, bundle, '/bin/sh -c python3 -m compileall json');
  opaqueLayer(work, ref, stdlib);
  const unpacked = path.join(work, 'unpacked');
  run('umoci', ['unpack', '--rootless', '--image', ref, unpacked]);
  return { layout, ref, rootfs: path.join(unpacked, 'rootfs') };
}

function firstLayer(stdlib: string, py: string, other: string): void {
  for (const f of ['os.py', 'abc.py']) copy(path.join(stdlib, f), path.join(py, f));
  for (const f of fs.readdirSync(path.join(stdlib, '__pycache__')))
    if (/^(os|abc)\./.test(f)) copy(path.join(stdlib, '__pycache__', f), path.join(py, '__pycache__', f));
  copy(path.join(stdlib, 'email'), path.join(py, 'email'));
  for (const f of fs.readdirSync(path.join(stdlib, 'json')))
    if (f.endsWith('.py')) copy(path.join(stdlib, 'json', f), path.join(py, 'json', f));
  fs.linkSync(path.join(py, 'email', 'utils.py'), path.join(py, 'email', 'utils_copy.py'));
  copy(other, path.join(py, 'email', '__pycache__', path.basename(other)));
  const sp = path.join(py, 'site-packages');
  fs.mkdirSync(path.join(sp, 'demo-1.0.dist-info'), { recursive: true });
  fs.writeFileSync(path.join(sp, 'demo.py'), 'X = 1\n');
  fs.writeFileSync(path.join(sp, 'demo-1.0.dist-info', 'METADATA'), 'Name: demo\nVersion: 1.0\n');
  fs.writeFileSync(
    path.join(sp, 'demo-1.0.dist-info', 'RECORD'),
    'demo.py,,6\ndemo-1.0.dist-info/METADATA,,\ndemo-1.0.dist-info/RECORD,,\n',
  );
}

function repack(ref: string, bundle: string, createdBy: string): void {
  run('umoci', ['repack', '--refresh-bundle', '--image', ref, '--history.created_by', createdBy, bundle]);
}

/** Layer 4: email/mime replaced whole, as a tar holding an opaque-directory marker. */
function opaqueLayer(work: string, ref: string, stdlib: string): void {
  const stage = path.join(work, 'layer4');
  const mime = path.join(stage, 'usr', 'lib', path.basename(stdlib), 'email', 'mime');
  fs.mkdirSync(mime, { recursive: true });
  fs.writeFileSync(path.join(mime, '.wh..wh..opq'), '');
  copy(path.join(stdlib, 'email', 'mime', 'text.py'), path.join(mime, 'text.py'));
  const tarFile = path.join(work, 'layer4.tar');
  run('tar', ['--format=pax', '--owner=0', '--group=0', '-cf', tarFile, '-C', stage, 'usr']);
  run('umoci', [
    'raw',
    'add-layer',
    '--image',
    ref,
    '--history.created_by',
    'RUN replace email/mime',
    tarFile,
  ]);
}

function* walk(d: string): Generator<string> {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}

/** skopeo: the image as a `docker save` archive (uncompressed layers). */
export function toDockerArchive(img: BuiltImage, file: string): string {
  run('skopeo', ['copy', `oci:${img.ref}`, `docker-archive:${file}:img:latest`]);
  return file;
}

/** skopeo: the image as an OCI archive with zstd layers. */
export function toOciArchive(img: BuiltImage, file: string): string {
  run('skopeo', ['copy', '--dest-compress-format', 'zstd', `oci:${img.ref}`, `oci-archive:${file}`]);
  return file;
}

/**
 * The image as Docker 25+ `docker save` writes it: the OCI layout (blobs/sha256, index.json) and, beside it,
 * a manifest.json whose Config and Layers name those blobs; tarred with GNU tar.
 */
export function toDocker25Archive(img: BuiltImage, work: string, file: string): string {
  const stage = path.join(work, 'docker25');
  fs.cpSync(img.layout, stage, { recursive: true });
  const index = readJson(path.join(stage, 'index.json')) as { manifests: Array<{ digest: string }> };
  const blob = (d: string): string => `blobs/sha256/${d.slice('sha256:'.length)}`;
  const manifest = readJson(path.join(stage, blob(index.manifests[0]!.digest))) as {
    config: { digest: string };
    layers: Array<{ digest: string }>;
  };
  const list = [
    {
      Config: blob(manifest.config.digest),
      RepoTags: ['img:latest'],
      Layers: manifest.layers.map((l) => blob(l.digest)),
    },
  ];
  fs.writeFileSync(path.join(stage, 'manifest.json'), JSON.stringify(list));
  run('tar', ['-cf', file, '-C', stage, '.']);
  return file;
}

function readJson(p: string): unknown {
  return JSON.parse(fs.readFileSync(p, 'utf8'));
}

export interface HandMember {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: string;
  linkname?: string;
}

/** A layer tar made by tar-stream's packer (names exactly as given, hostile ones included). */
export async function tarOf(members: HandMember[]): Promise<Buffer> {
  const { pack } = await import('tar-stream');
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const m of members) {
    const header = {
      name: m.name,
      type: m.type ?? 'file',
      mode: m.type === 'directory' ? 0o755 : 0o644,
      ...(m.linkname === undefined ? {} : { linkname: m.linkname }),
    };
    if ((m.type ?? 'file') === 'file') p.entry(header, m.content ?? '');
    else p.entry(header);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * An OCI layout written by hand: each layer a tar (stored as given), one manifest, or an index of one
 * manifest per platform when `platforms` is given. For inputs the tools refuse to make.
 */
export function handLayout(
  dir: string,
  layers: Buffer[],
  options: { mediaType?: string; platforms?: string[] } = {},
): string {
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer | string): { digest: string; size: number } => {
    const b = Buffer.from(data);
    const hex = createHash('sha256').update(b).digest('hex');
    fs.writeFileSync(path.join(blobs, hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  };
  const config = put(
    JSON.stringify({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const manifest = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({
        mediaType: options.mediaType ?? 'application/vnd.oci.image.layer.v1.tar',
        ...put(l),
      })),
    }),
  );
  const manifests = (options.platforms ?? ['']).map((p) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...manifest,
    ...(p === '' ? {} : { platform: { os: p.split('/')[0], architecture: p.split('/')[1] } }),
  }));
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  return dir;
}
