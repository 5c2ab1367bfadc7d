/**
 * The seeds' ways to shrink Python (Solutions 0-10 of 001, Options 1-2 and "Minimal 2" of 000), in the
 * order the report lists them: the one list that registers a strategy. Each lives in its own module (a
 * family sharing one layout, such as sourceless/pysources, in one), with the constraints of 001 it risks.
 *
 * The constraints (001, "Constraints"): (1) Python users' expectations, (2) the distribution's users'
 * expectations, (3) packagers' expectations, (4) no significantly larger default footprint, (5) no
 * significant divergence from upstream.
 */
import {
  DROP_OPT2_DEDUP,
  DROP_OPT2_FALLBACK,
  DROP_OPTIMIZED_DEDUP,
  DROP_OPTIMIZED_FALLBACK,
  PY_AND_PYC0,
  STATUS_QUO,
} from './combinations.js';
import { COMPRESS_PYC } from './compress-pyc.js';
import type { Subset } from './context.js';
import { DEAD } from './dead-batteries.js';
import { DEDUP } from './dedup.js';
import { DEV } from './dev-modules.js';
import { DROP_OPT2, DROP_OPTIMIZED } from './drop-optimized.js';
import { NO_BYTECODE } from './no-bytecode.js';
import { NO_PYTHON } from './no-python.js';
import { OPT_FALLBACK } from './opt-fallback.js';
import { PYSOURCES, SOURCELESS } from './sourceless.js';
import type { Strategy } from './strategy.js';
import { STRIP_TESTS } from './strip-tests.js';
import { ZIP_DATA, ZIP_STDLIB } from './zip-layouts.js';

export type { Estimate, Risk, Strategy } from './strategy.js';
export { DEAD_BATTERIES } from './dead-batteries.js';
export { DEV_MODULES } from './dev-modules.js';

/** The constraints of seed 001, by number, as reports name them. */
export const CONSTRAINTS: Readonly<Record<number, string>> = {
  1: "Python users' expectations",
  2: "the distribution's users' expectations",
  3: "packagers' expectations",
  4: 'no larger default footprint',
  5: 'no divergence from upstream',
};

export const STRATEGIES: readonly Strategy[] = [
  STATUS_QUO,
  DEAD,
  DEV,
  ZIP_DATA,
  ZIP_STDLIB,
  NO_BYTECODE,
  DROP_OPTIMIZED,
  DROP_OPT2,
  OPT_FALLBACK,
  STRIP_TESTS,
  SOURCELESS,
  COMPRESS_PYC,
  DEDUP,
  NO_PYTHON,
  PYSOURCES,
  PY_AND_PYC0,
  DROP_OPT2_DEDUP,
  DROP_OPTIMIZED_DEDUP,
  DROP_OPT2_FALLBACK,
  DROP_OPTIMIZED_FALLBACK,
];

/**
 * The python3-libs-like subset of the seeds: the stdlib without tests, IDLE, tkinter and turtle (their own
 * packages in Fedora), without the static library and Makefile of config-* (python3-devel) and without
 * site-packages (not the stdlib).
 */
export const PYTHON3_LIBS: Subset = {
  excludeModules: ['test', 'idlelib', 'tkinter', '_tkinter', 'turtle', 'turtledemo', 'config-*'],
  excludeTests: true,
  excludeSitePackages: true,
};
