/** Remove the test code (test, tests, idle_test packages); the modules it removes are named for verify. */
import { dottedName } from '../model/classify.js';
import { TYPE_DIR } from '../scan/table.js';
import type { Carried, Layout } from './strategy.js';

function stripTests(l: Layout): void {
  const { t, c } = l;
  for (let i = 0; i < t.count; i++) {
    if (c.test[i] !== 1 || t.type[i] === TYPE_DIR || !l.ok(i)) continue;
    l.remove(i);
    const isTop = c.test[t.parent[i]!] !== 1;
    if (isTop || (t.name[i] as string) === '__init__.py') {
      const m = dottedName(t, c, i);
      if (m !== '') l.removedModules.add(m);
    }
  }
}

export const STRIP_TESTS: Carried = {
  kind: 'layout',
  id: 'strip-tests',
  title: 'Remove the test code (test, tests, idle_test packages)',
  seedRef: '001 Solution 0 (tests already live in an optional package)',
  risks: [{ constraint: 1, why: 'the test suite (python -m test) is gone' }],
  actionable: true,
  rank: 1,
  layout: stripTests,
};
