/** Solution 2: developer modules in a sub-package; a split of the files (`pyfloppy split`), not a change. */
import { inModules } from './dead-batteries.js';
import type { Estimated } from './strategy.js';

/** Solution 2's developer modules. */
export const DEV_MODULES = [
  'pydoc_data',
  'distutils',
  'ensurepip',
  'lib2to3',
  'unittest',
  'pydoc',
  'doctest',
  'venv',
] as const;

export const DEV: Estimated = {
  kind: 'estimate',
  id: 'dev-modules',
  title: 'Move developer modules to a sub-package',
  seedRef: '001 Solution 2',
  risks: [
    { constraint: 1, why: 'users expect venv, unittest, pydoc to work' },
    { constraint: 3, why: 'runtime users of lib2to3, distutils, ... are not tracked' },
  ],
  actionable: true,
  note: 'ensurepip counts with its bundled wheels',
  refusal: 'a sub-package split, not a change to the tree: use `pyfloppy split`',
  estimate: (ctx) => ctx.freed(inModules(ctx, DEV_MODULES)),
};
