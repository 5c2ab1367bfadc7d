/** Writing what a command produced (a report, a plan, a file list) to the file the user named. */
import fs from 'node:fs';
import { PyfloppyError } from '../errors.js';
import { writeFileAtomic } from '../fsops/write.js';

/**
 * writeFileAtomic(), with a directory given as the output refused up front by its own name: the rename
 * that would fail otherwise names the temporary sibling, which the user never asked for.
 */
export function writeOutput(file: string, text: string, example = 'out.txt'): void {
  let directory = false;
  try {
    directory = fs.statSync(file).isDirectory();
  } catch {
    // Why: a name that does not exist yet is the usual case; writeFileAtomic() reports a missing parent.
  }
  if (directory)
    throw new PyfloppyError('EUSAGE', `cannot write ${file}: it is a directory`, {
      hint: `name a file, e.g. ${file.replace(/\/+$/, '')}/${example}`,
    });
  writeFileAtomic(file, text);
}

/**
 * The one rule for a root the user named that cannot be read (analyze, check, dedup, compile, split): a usage
 * error (exit 2) naming it, as for a missing path, not an empty report. A directory needs read and search
 * permission, a file read permission; a path that does not exist is left to the library's own message.
 * Unreadable parts below a readable root are skipped and listed instead (a warning).
 */
export function requireReadable(paths: readonly string[]): void {
  for (const p of paths) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      continue;
    }
    try {
      fs.accessSync(p, st.isDirectory() ? fs.constants.R_OK | fs.constants.X_OK : fs.constants.R_OK);
    } catch (e) {
      throw new PyfloppyError('EACCES', `cannot read ${p}: permission denied`, {
        cause: e,
        hint: 'run as a user who may read it (and, for dedup, write it)',
      });
    }
  }
}
