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
