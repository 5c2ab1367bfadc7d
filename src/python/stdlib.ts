/**
 * Recognizing a stdlib directory as CPython's getpath lays it out: PREFIX/lib/pythonX.Y (pythonX.Yt for a
 * free-threaded build), holding os.py (or a sourceless os.pyc), with the archive getpath puts on sys.path
 * before it at PREFIX/lib/pythonXY.zip (pythonXYt.zip). Reference: Modules/getpath.py (STDLIB_LANDMARKS,
 * ZIP_LANDMARK).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface StdlibRoot {
  major: number;
  minor: number;
  /** The archive's path relative to the directory: '../python313.zip'. */
  archive: string;
}

/** A stdlib directory's name: pythonX.Y, or pythonX.Yt for a free-threaded build. */
export const STDLIB_NAME = /^python(\d+)\.(\d+)(t?)$/;

/** The directory's layout when it is a stdlib (its landmark on disk, or its archive beside it), else null. */
export function stdlibRoot(dir: string): StdlibRoot | null {
  const m = STDLIB_NAME.exec(path.basename(dir));
  if (m === null) return null;
  const archive = `../python${m[1]}${m[2]}${m[3]}.zip`;
  // os.py may live in the archive (an installation zipped that way by someone else).
  if (!['os.py', 'os.pyc', archive].some((f) => fs.existsSync(path.join(dir, f)))) return null;
  return { major: Number(m[1]), minor: Number(m[2]), archive };
}
