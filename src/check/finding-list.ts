/**
 * The finding ids of `check`, their severity and one-line meaning: the single list the CLI help, the
 * README table and `--ignore` come from. Light (no rule, no I/O), so the CLI can define `check --help`
 * without loading the checker; each id's rule is beside it in findings.ts.
 */
export type Severity = 'error' | 'warning' | 'info';

export const FINDING_LIST = {
  'bad-header': {
    severity: 'error',
    meaning:
      'not a valid cache: truncated, not a .pyc, bad flags, or a magic number of another version than its tag',
  },
  'stale-timestamp': {
    severity: 'warning',
    meaning: "the source's mtime or size differs from the header: Python recompiles and tries to write",
  },
  'stale-hash': {
    severity: 'warning',
    meaning:
      'the source hash differs from the header: Python recompiles (checked) or runs old code (unchecked)',
  },
  'missing-level': {
    severity: 'warning',
    meaning: 'an optimization level the tree ships for other modules is missing: Python tries to write it',
  },
  orphan: {
    severity: 'warning',
    meaning: 'a cache without a source, or not named as a cache: never imported, dead weight',
  },
  'foreign-tag': {
    severity: 'warning',
    meaning: "a cache tag or magic number other than the tree's interpreter's: never used, or rewritten",
  },
  'shadowed-legacy': {
    severity: 'warning',
    meaning: 'a legacy mod.pyc beside mod.py (or a package or extension of that name): import ignores it',
  },
  'buildroot-path': {
    severity: 'warning',
    meaning:
      'co_filename is not the installed path (a build root, a relative path): tracebacks lose source lines',
  },
  'leftover-temporary': {
    severity: 'warning',
    meaning:
      'a pyfloppy temporary (.pyfloppy-PID-...tmp) whose process is gone: left by an interrupted run, dead weight',
  },
  'stale-record': {
    severity: 'warning',
    meaning:
      "a distribution's RECORD names a file that is gone or has other bytes, or misses one of its files: pip and importlib.metadata are wrong",
  },
  'unchecked-hash': {
    severity: 'info',
    meaning: 'an unchecked-hash cache: Python never compares it with its source',
  },
  'unlinked-duplicate': {
    severity: 'info',
    meaning: 'byte-identical to the level below it but not hardlinked: `pyfloppy dedup` frees it',
  },
  uncompilable: {
    severity: 'info',
    meaning:
      'a source without any cache that the interpreter cannot compile: importing it fails, nothing is written',
  },
} as const satisfies Record<string, { severity: Severity; meaning: string }>;

export type FindingId = keyof typeof FINDING_LIST;
export const FINDING_IDS = Object.keys(FINDING_LIST) as FindingId[];

export function isFindingId(s: string): s is FindingId {
  return Object.hasOwn(FINDING_LIST, s);
}
