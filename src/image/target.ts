/**
 * An image as the model's target: read its layers once, find its Python directories, and hand the model
 * a scan result (the EntryTable of those directories, contents answered from the read) with the image's
 * own facts (format, platform, interpreter version, layer table). Loaded only when a target is an image.
 */
import { PyfloppyError } from '../errors.js';
import type { ScanResult } from '../scan/scan.js';
import { imagePythonRoots, imageScan } from './entries.js';
import { type ImageInfo, imageInfo } from './layers.js';
import { readImage, type ReadOptions } from './read.js';

export type { ImageInfo, LayerRow } from './layers.js';

export async function imageTarget(
  path: string,
  options: ReadOptions = {},
): Promise<{ scan: ScanResult; image: ImageInfo }> {
  const read = await readImage(path, options);
  const roots = imagePythonRoots(read.tree);
  if (roots.length === 0)
    throw new PyfloppyError('ENOTFOUND', `no Python found in the image ${path}`, {
      hint: 'pyfloppy looks for lib/pythonX.Y under /, /usr, /usr/local and /opt/*, and lib/python3/dist-packages',
    });
  const scan = imageScan(read, roots, path);
  options.onProgress?.(scan.table.count, 0);
  return { scan, image: imageInfo(read, roots, path) };
}
