/**
 * The findings of `pyfloppy check`: stable ids (used in JSON, --ignore and docs), their severity, what each
 * means, and the rule that finds it over the check's state (`state.ts`). Errors and warnings make the exit
 * code 1; infos do not.
 */
import { isLeftoverTemp } from '../fsops/temp.js';
import { TYPE_FILE } from '../scan/table.js';
import { recordProblems } from './record.js';
import { type CheckState, describeMagic, nameOf, type Parsed } from './state.js';
import { FINDING_IDS, FINDING_LIST, type FindingId } from './finding-list.js';

export { FINDING_IDS, FINDING_LIST, type FindingId, isFindingId, type Severity } from './finding-list.js';

/** Reports one finding of the rule's id about `entry` (its bytes counted unless `bytes` is false). */
export type Report = (entry: number, message: string, bytes?: boolean) => void;
export type Rule = (s: CheckState, report: Report) => void;

const LEVEL_SUFFIX = ['', '.opt-1', '.opt-2'] as const;
const LEVEL_NAME = ['level 0', 'opt-1', 'opt-2'] as const;

function badHeader(s: CheckState, report: Report): void {
  for (const b of s.badHeaders) report(b.entry, b.message);
  for (const v of s.caches)
    if (v.state === 'bad-magic')
      report(
        v.entry,
        `${describeMagic(v.x!.magic)} in a ${v.tag} cache: importlib rejects it and recompiles`,
      );
}

/** Caches whose source is a regular file to compare with. */
function sourced(s: CheckState): Array<{ entry: number; x: Parsed; file: string }> {
  return s.caches
    .filter((v) => v.state === 'sourced' && v.x!.source.state === 'regular')
    .map((v) => ({ entry: v.entry, x: v.x!, file: s.expectedSource.get(v.entry)!.file }));
}

function staleTimestamp(s: CheckState, report: Report): void {
  for (const { entry, x, file } of sourced(s)) {
    const src = x.source;
    if (x.invalidation !== 'timestamp' || src.state !== 'regular') continue;
    const mtimeDiffers = x.mtime !== src.mtime;
    const sizeDiffers = x.sourceSize !== undefined && x.sourceSize !== src.size >>> 0;
    if (!mtimeDiffers && !sizeDiffers) continue;
    const what = [
      ...(mtimeDiffers ? [`mtime ${x.mtime} (source: ${src.mtime})`] : []),
      ...(sizeDiffers ? [`size ${x.sourceSize} (source: ${src.size})`] : []),
    ].join(', ');
    report(
      entry,
      `header records ${what}: Python recompiles ${file} at every import and tries to write this cache`,
    );
  }
}

function staleHash(s: CheckState, report: Report): void {
  for (const { entry, x, file } of sourced(s)) {
    if (x.invalidation === 'timestamp' || x.source.state !== 'regular' || x.source.hashMatches !== false)
      continue;
    report(
      entry,
      x.invalidation === 'checked-hash'
        ? `source hash differs from ${file}'s: Python recompiles at every import and tries to write this cache`
        : `unchecked-hash cache of a changed ${file}: Python runs the old bytecode without noticing`,
    );
  }
}

function missingLevel(s: CheckState, report: Report): void {
  const { missing, uncompilable } = s.missing();
  const exe = s.interp.source === 'python' ? s.interp.executable : null;
  for (const m of missing) {
    if (uncompilable.has(m.source)) continue;
    const stem = nameOf(s.t, m.source).slice(0, -3);
    const names = m.levels.map((l) => `${stem}.${s.treeTag}${LEVEL_SUFFIX[l]}.pyc`);
    const levelNames = m.levels.map((l) => LEVEL_NAME[l]).join(', ');
    const flag = m.levels.includes(0) ? 'python' : m.levels.includes(1) ? 'python -O' : 'python -OO';
    report(
      m.source,
      `no ${levelNames} cache (${names.join(', ')}) where ${Math.max(...m.shipped)} other modules of this tree have one: \`${flag}\` tries to write it${exe === null && m.none ? ' (give --python to tell sources that cannot compile apart)' : ''}`,
      false,
    );
  }
}

function orphan(s: CheckState, report: Report): void {
  for (const v of s.caches)
    if (v.state === 'orphan')
      report(
        v.entry,
        `no ${s.expectedSource.get(v.entry)?.file ?? 'source'} beside __pycache__: never imported`,
      );
  const atLeast35 = s.interp.version === null || !/^(2\.|3\.[0-4]$)/.test(s.interp.version);
  for (const v of s.legacyVerdicts) {
    const name = nameOf(s.t, v.entry);
    if (v.state === 'in-pycache')
      report(v.entry, `${name} in __pycache__ is not named as a cache (NAME.TAG.pyc): never imported`);
    if (v.state === 'pyo' && atLeast35) report(v.entry, 'Python 3.5 and later never import .pyo files');
  }
}

function foreignTag(s: CheckState, report: Report): void {
  for (const v of s.caches) {
    if (v.state === 'foreign-tag')
      report(v.entry, `cache tag ${v.tag}, the tree's interpreter is ${s.treeTag}: never imported`);
    if (v.state === 'foreign-magic')
      report(
        v.entry,
        `${describeMagic(v.x!.magic)}, the interpreter's is ${s.treeMagic}: importlib rejects it, recompiles and tries to write`,
      );
  }
  for (const v of s.legacyVerdicts)
    if (v.state === 'foreign-magic')
      report(
        v.entry,
        `${describeMagic(v.x!.magic)}, the interpreter's is ${s.treeMagic}: importing it fails (bad magic number)`,
      );
}

function shadowedLegacy(s: CheckState, report: Report): void {
  for (const v of s.legacyVerdicts) {
    if (v.state !== 'shadowed') continue;
    const p = s.t.parent[v.entry]!;
    const stem = nameOf(s.t, v.entry).slice(0, -4);
    const beside = s.sources.has(`${p}\0${stem}`) ? `${stem}.py` : `a package or extension named ${stem}`;
    report(v.entry, `${beside} is imported instead: never used`);
  }
}

function buildrootPath(s: CheckState, report: Report): void {
  const loaded = [
    ...s.caches.filter((v) => v.state === 'orphan' || v.state === 'sourced'),
    ...s.legacyVerdicts.filter((v) => v.state === 'loaded'),
  ];
  for (const { entry, x } of loaded) {
    if (x!.filenames === null || !s.expectedSource.has(entry)) continue;
    const want = s.expectedFilenames(entry);
    const bad = x!.filenames.find((f) => !want.includes(f));
    if (bad === undefined) continue;
    const where = x!.filenames[0] === bad ? 'co_filename' : "a nested code object's co_filename";
    report(entry, `${where} is ${JSON.stringify(bad)}, the installed path is ${want[0]}`, false);
  }
}

/**
 * pyfloppy's own temporaries left by a run that is over (a killed compile's partial cache, a killed
 * dedup's second name): dead weight the next `compile` or `dedup` removes.
 */
function leftoverTemporary(s: CheckState, report: Report): void {
  for (let i = 0; i < s.t.count; i++)
    if (s.t.type[i] === TYPE_FILE && isLeftoverTemp(nameOf(s.t, i)))
      report(i, 'left by an interrupted pyfloppy run: `pyfloppy compile` or `dedup` removes it');
}

/** A distribution's file list that no longer matches the files (src/check/record.ts). */
function staleRecord(s: CheckState, report: Report): void {
  for (const p of recordProblems(s)) report(p.entry, p.message, false);
}

function uncheckedHash(s: CheckState, report: Report): void {
  for (const v of s.caches)
    if (v.state === 'sourced' && v.x!.invalidation === 'unchecked-hash')
      report(
        v.entry,
        `never compared with ${s.expectedSource.get(v.entry)!.file}: a changed source goes unnoticed`,
      );
}

/** Identical levels not linked, paired as compileall --hardlink-dupes pairs them. */
function unlinkedDuplicate(s: CheckState, report: Report): void {
  const { g, t } = s;
  for (let k = 0; k < g.count; k++) {
    if (s.treeTagIdx !== -1 && g.tag[k] !== s.treeTagIdx) continue;
    const bits = s.model.identity.pairBits[k]!;
    const [l0, l1, l2] = [g.levels[3 * k]!, g.levels[3 * k + 1]!, g.levels[3 * k + 2]!];
    const pairs: Array<[number, number, number, number]> = [
      [1, 8, l0, l1],
      [2, 16, l1, l2],
      [4, 32, l0, l2],
    ];
    for (const [same, linked, a, b] of pairs)
      if ((bits & same) !== 0 && (bits & linked) === 0 && t.nlink[b] === 1)
        report(b, `byte-identical to ${nameOf(t, a)} but a separate file: \`pyfloppy dedup\` links it`);
  }
}

function uncompilable(s: CheckState, report: Report): void {
  for (const [source, err] of s.missing().uncompilable)
    report(source, `${err}: no cache, and importing it fails before anything is written`, false);
}

const RULES: Record<FindingId, Rule> = {
  'bad-header': badHeader,
  'stale-timestamp': staleTimestamp,
  'stale-hash': staleHash,
  'missing-level': missingLevel,
  orphan: orphan,
  'foreign-tag': foreignTag,
  'shadowed-legacy': shadowedLegacy,
  'buildroot-path': buildrootPath,
  'leftover-temporary': leftoverTemporary,
  'stale-record': staleRecord,
  'unchecked-hash': uncheckedHash,
  'unlinked-duplicate': unlinkedDuplicate,
  uncompilable: uncompilable,
};

/** Each finding id with its severity, meaning (finding-list.ts) and rule. */
export const FINDINGS = Object.fromEntries(
  FINDING_IDS.map((id) => [id, { ...FINDING_LIST[id], rule: RULES[id] }]),
) as { [K in FindingId]: (typeof FINDING_LIST)[K] & { rule: Rule } };
