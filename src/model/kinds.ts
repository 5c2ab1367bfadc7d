/**
 * The kinds a scanned entry is classified into. The order matters: an inode reached through several paths is
 * counted once, under the lowest kind of its paths (a level-0 pyc hardlinked to its level-1 twin counts as
 * bytecode-0).
 */
export const KIND_NAMES = [
  'source',
  'bytecode-0',
  'bytecode-1',
  'bytecode-2',
  'legacy-bytecode',
  'extension',
  'metadata',
  'data',
  'directory',
  'symlink',
] as const;

export type KindName = (typeof KIND_NAMES)[number];

export const K_SOURCE = 0;
export const K_BYTECODE0 = 1;
export const K_BYTECODE1 = 2;
export const K_BYTECODE2 = 3;
export const K_LEGACY = 4;
export const K_EXTENSION = 5;
export const K_METADATA = 6;
export const K_DATA = 7;
export const K_DIRECTORY = 8;
export const K_SYMLINK = 9;
export const KIND_COUNT = KIND_NAMES.length;

/** The kinds that are files (everything but directories and symlinks). */
export const FILE_KINDS: readonly KindName[] = KIND_NAMES.slice(0, K_DIRECTORY);

/** Short column headers, as the seed document's tables have them. */
export const KIND_HEADERS: Record<KindName, string> = {
  source: '.py',
  'bytecode-0': '.pyc',
  'bytecode-1': '.opt-1.pyc',
  'bytecode-2': '.opt-2.pyc',
  'legacy-bytecode': 'legacy .pyc',
  extension: '.so',
  metadata: 'metadata',
  data: 'data',
  directory: 'dirs',
  symlink: 'symlinks',
};
