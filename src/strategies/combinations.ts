/** Named combinations of carried strategies: their estimate and plan are those of their parts, composed. */
import { DROP_OPT_RISKS } from './drop-optimized.js';
import { ZERO } from './context.js';
import type { Combined, Estimated } from './strategy.js';

/** Changes nothing: its own estimate (zero), not a composition of none (which would count directories already empty). */
export const STATUS_QUO: Estimated = {
  kind: 'estimate',
  id: 'status-quo',
  title: 'Status quo',
  seedRef: '001 Solution 0',
  risks: [{ constraint: 1, why: 'tkinter, IDLE and tests already live in optional packages' }],
  actionable: true,
  refusal: 'changes nothing',
  estimate: () => ZERO,
};

export const PY_AND_PYC0: Combined = {
  kind: 'parts',
  id: 'py-and-pyc0',
  title: 'Ship .py and non-optimized .pyc',
  seedRef: '000 Size impact',
  risks: DROP_OPT_RISKS,
  actionable: true,
  parts: ['drop-optimized'],
};

export const DROP_OPT2_DEDUP: Combined = {
  kind: 'parts',
  id: 'drop-opt2+dedup',
  title: 'Drop level 2, hardlink identical levels 0 and 1',
  seedRef: '001 Solutions 6 + 9',
  risks: [{ constraint: 1, why: 'with -OO, imports compile from source and Python tries to write caches' }],
  actionable: true,
  parts: ['drop-opt2', 'dedup'],
};

export const DROP_OPTIMIZED_DEDUP: Combined = {
  kind: 'parts',
  id: 'drop-optimized+dedup',
  title: 'Drop levels 1 and 2, hardlink what is left',
  seedRef: '001 Solutions 6 + 9',
  risks: DROP_OPT_RISKS,
  actionable: true,
  note: 'with one level left nothing is identical across levels: the same as drop-optimized',
  parts: ['drop-optimized', 'dedup'],
};

const FALLBACK_RISKS: Combined['risks'] = [
  {
    constraint: 1,
    why: 'a module without its -O/-OO cache runs less optimized code: asserts and docstrings kept',
  },
  { constraint: 5, why: 'the marker is honoured by a downstream runtime until CPython adopts it' },
];

export const DROP_OPT2_FALLBACK: Combined = {
  kind: 'parts',
  id: 'drop-opt2+fallback',
  title: 'Drop level 2; -OO runs the level-1 caches (Workaround 6.1)',
  seedRef: '001 Solution 6, Workaround 6.1',
  risks: FALLBACK_RISKS,
  actionable: true,
  parts: ['drop-opt2', 'opt-fallback'],
};

export const DROP_OPTIMIZED_FALLBACK: Combined = {
  kind: 'parts',
  id: 'drop-optimized+fallback',
  title: 'Drop levels 1 and 2; -O and -OO run the level-0 caches (Workaround 6.1)',
  seedRef: '001 Solution 6, Workaround 6.1',
  risks: FALLBACK_RISKS,
  actionable: true,
  parts: ['drop-optimized', 'opt-fallback'],
};
