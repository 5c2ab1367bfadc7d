/** Solution 10: no Python at all, for scale. */
import type { Estimated } from './strategy.js';

export const NO_PYTHON: Estimated = {
  kind: 'estimate',
  id: 'no-python',
  title: 'No Python at all',
  seedRef: '001 Solution 10',
  risks: [
    { constraint: 2, why: 'users expect Python (Ansible, scripts) to be there' },
    { constraint: 1, why: 'nothing Python runs' },
  ],
  actionable: false,
  note: 'for scale',
  refusal: 'for scale only',
  estimate: (ctx) => ctx.total,
};
