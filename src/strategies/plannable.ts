/**
 * The ids of the strategies `plan` carries out, in composition order: light, so that the CLI can define
 * `plan --help` without loading the strategies. compose.ts checks it against the catalog when it loads.
 */
export const PLANNABLE_IDS: readonly string[] = [
  'strip-tests',
  'zip-data',
  'zip-stdlib',
  'drop-opt2',
  'drop-optimized',
  'opt-fallback',
  'no-bytecode',
  'sourceless',
  'pysources',
  'dedup',
];
