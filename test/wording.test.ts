/**
 * The words of the text reports: a count agrees with its noun ("1 file differs", "2 files differ"), numbers
 * carry thousands separators, and nothing says a thing twice ("interpreter: interpreter unknown") or prints
 * an empty list ("0 operations ()"). Pure renderers over small report objects: no process, no tree.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApplyReport } from '../src/apply/apply.js';
import type { CheckReport } from '../src/check/check.js';
import type { CompileReport } from '../src/compile/compile.js';
import type { DedupReport } from '../src/dedup/dedup.js';
import type { Plan } from '../src/plan/plan.js';
import type { VerifyReport } from '../src/verify/verify.js';
import { renderApply } from '../src/cli/apply-run.js';
import { renderCheck } from '../src/cli/check-run.js';
import { renderCompile } from '../src/cli/compile-run.js';
import { renderDedup } from '../src/cli/dedup-run.js';
import { renderPlan } from '../src/cli/plan-run.js';
import { plural } from '../src/report/format.js';
import { outputWidth, textTable } from '../src/report/table.js';

const bytes = { apparentBytes: 0, allocatedBytes: 0 };

function applyReport(over: Partial<ApplyReport>): ApplyReport {
  return {
    root: '/t',
    strategies: ['dedup'],
    dryRun: false,
    outcome: 'applied',
    resumed: false,
    rolledBackOther: false,
    operations: 1,
    done: 1,
    committed: true,
    journal: null,
    saved: bytes,
    freed: bytes,
    toBeFreedAtCommit: bytes,
    mismatches: [],
    ...over,
  } as ApplyReport;
}

describe('text reports say counts in words that agree with them', () => {
  it('plural() agrees and separates thousands', () => {
    assert.equal(plural(1, 'file'), '1 file');
    assert.equal(plural(0, 'file'), '0 files');
    assert.equal(plural(12345, 'operation'), '12,345 operations');
  });

  it('apply: one file differs, one operation done, one write attempt', () => {
    const refused = renderApply(
      applyReport({ outcome: 'refused', mismatches: [{ path: '/t/a.py', why: 'size changed' }] as never }),
    );
    assert.match(refused, /refused, nothing changed: 1 file differs from the plan/);
    assert.match(renderApply(applyReport({})), /: 1 operation done;/);
    assert.match(renderApply(applyReport({ operations: 1234, done: 1234 })), /: 1,234 operations done;/);
    // --no-commit: the journal still holds the old files, so nothing is freed yet.
    const kept = renderApply(applyReport({ committed: false, journal: '/t/.pyfloppy-journal' }));
    assert.match(kept, /done; 0 B on disk \(0 B apparent\) to be freed at commit/);
    assert.doesNotMatch(kept, /\bfreed \d/);
    assert.match(renderApply(applyReport({})), /done; freed 0 B on disk/);
    const level = { level: 0, ok: 1200, failed: [], writes: [{}] };
    const v = { levels: [level] } as unknown as VerifyReport;
    const verified = renderApply(applyReport({ verify: { before: v, after: v, regressions: [] } }));
    assert.match(verified, /level 0: 1,200 ok, 0 failed, 1 write attempt(;|$)/m);
  });

  it('plan: an empty plan says it is empty, not "0 operations ()"', () => {
    const p = {
      root: '/t',
      strategies: ['dedup'],
      counts: { remove: 0, link: 0, move: 0, write: 0, zip: 0, mkdir: 0, rmdir: 0 },
      operations: [],
      saved: bytes,
      estimate: null,
      cacheTag: null,
      shippedLevels: [0],
      refused: [],
      notes: [],
    } as unknown as Plan;
    const text = renderPlan(p, 'plan.json');
    assert.doesNotMatch(text, /0 operations \(\)/);
    assert.match(text, /nothing to do: the plan is empty/);
  });

  it('dedup and compile: one pair, one cache, thousands separated', () => {
    const d = {
      dryRun: false,
      all: false,
      linked: [],
      saved: { pairs: 1, ...bytes },
      alreadyLinked: 1,
      leftoversRemoved: [],
      namedOutside: { count: 0, reason: '', paths: [] },
      skipped: [{ target: '/t/b', survivor: '/t/a', message: 'm', reason: 'EXDEV' }],
    } as unknown as DedupReport;
    const text = renderDedup(d, false);
    assert.match(text, /linked 1 pair \(/);
    assert.match(text, /^already linked: 1 pair$/m);
    assert.match(text, /^skipped 1 pair:$/m);
    const c = {
      errors: [],
      skipped: [],
      leftoversRemoved: [],
      sources: 1,
      interpreter: { cacheTag: 'cpython-313' },
      levels: [0],
      compiled: 1,
      upToDate: 0,
      written: 1,
      linked: 2500,
    } as unknown as CompileReport;
    assert.match(renderCompile(c, false), /1 source with .* 1 cache written, 2,500 linked/);
  });

  it('check: an unknown interpreter is said once', () => {
    const r = {
      roots: [{ path: '/t', labels: [] }],
      interpreter: { cacheTag: null, version: null, magic: null, evidence: 'no caches' },
      files: { caches: 0, legacy: 0, sources: 1, inspected: 0, symlinkedSources: 0 },
      summary: [],
      counts: { error: 1, warning: 0, info: 0 },
      ignored: [],
      findings: [],
      problems: [],
    } as unknown as CheckReport;
    const text = renderCheck(r, false);
    assert.doesNotMatch(text, /interpreter: interpreter/);
    assert.match(text, /^interpreter: unknown/m);
    assert.match(text, /0 caches .* 1 source under/);
    assert.match(text, /result: 1 error, 0 warnings, 0 infos/);
  });
});

describe('text tables fit the width', () => {
  it('wrap their widest prose column onto continuation rows, and leave narrow tables alone', () => {
    const prose = 'a risk that is told in many words so that the row is far wider than any terminal '.repeat(
      3,
    );
    const rows = [
      ['id', 'count', 'meaning'],
      ['first', '1,234', prose],
      ['second', '5', 'short'],
    ];
    const text = textTable(rows, ['l', 'r', 'l'], 60);
    const lines = text.split('\n');
    assert.deepEqual(
      lines.filter((l) => l.length > 60),
      [],
    );
    assert.match(lines[0]!, /^id +\| count \| meaning/);
    assert.match(lines[2]!, /^first +\| 1,234 \| a risk/);
    assert.match(lines[3]!, /^ +\| +\| \S/);
    assert.equal(lines.filter((l) => l.startsWith('second')).length, 1);
    // The words are all there, in order.
    const col = lines.slice(2).map((l) => l.split(' | ')[2]!.trim());
    assert.equal(col.join(' '), `${prose.trim()} short`);
    // A table that fits is as markdown-table draws it.
    assert.doesNotMatch(textTable(rows.slice(2), ['l', 'r', 'l'], 60), /\n.*\n/);
  });

  it("the width is the terminal's, 100 when output is not a terminal", () => {
    assert.equal(outputWidth({ isTTY: true, columns: 132 }), 132);
    assert.equal(outputWidth({ isTTY: false, columns: 132 }), 100);
    assert.equal(outputWidth({}), 100);
  });
});
