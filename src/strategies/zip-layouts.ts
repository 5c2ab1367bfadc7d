/**
 * The zip layouts: the modules zipSelection picks go into one archive of sources and level-0 bytecode (what
 * zipimport loads); their files leave the disk, with the directories left empty; the archive comes.
 */
import path from 'node:path';
import type { ZipScope } from './zip.js';
import { zipSelection } from './zip.js';
import type { Carried, Layout, ZipEntry } from './strategy.js';

function zipLayout(id: string, scope: ZipScope): (l: Layout) => void {
  return (l) => {
    const where = l.facts.archive();
    if ('why' in where) {
      l.refused.push({ strategy: id, why: where.why });
      return;
    }
    const sel = zipSelection(l.ctx, scope, l.facts.cacheTag);
    let stale = 0;
    const members: ZipEntry[] = [];
    for (const m of sel.members) {
      if (!l.ok(m.entry) || !l.alive(m.entry)) continue;
      // A cache zipimport would find stale (it compiles the source in memory instead) is not worth its bytes.
      if (m.source !== undefined && !l.facts.zipFresh(m.entry, m.source)) {
        stale++;
        continue;
      }
      members.push(member(l, m.entry, m.name, where.rel));
    }
    if (members.length === 0) return;
    l.ops.push({ op: 'zip', path: where.rel, members, size: l.ctx.zipSize(members) });
    for (let i = 0; i < l.t.count; i++) if (sel.remove[i] === 1 && l.ok(i)) l.remove(i);
    noteKept(l, sel.kept, sel.notUtf8, stale, where.rel);
  };
}

/**
 * A member; bytecode relocated to name where zipimport would compile its source from (the archive's path
 * joined with the member's): the caches were compiled at their place on disk, which the layout empties.
 */
function member(l: Layout, entry: number, name: string, archive: string): ZipEntry {
  if (!name.endsWith('.pyc')) return { entry, name };
  return { entry, name, filename: `${l.destPath(archive)}/${name.slice(0, -1)}` };
}

/** What stays on disk and why, and how zipimport will treat the archive. */
function noteKept(
  l: Layout,
  kept: Array<{ name: string; why: string }>,
  notUtf8: string[],
  stale: number,
  rel: string,
): void {
  const why = new Map<string, string[]>();
  for (const { name, why: w } of kept) if (w !== 'not UTF-8') why.set(w, [...(why.get(w) ?? []), name]);
  for (const [w, names] of why) l.notes.push(`kept on disk: ${names.join(', ')}: ${w}`);
  if (notUtf8.length > 0)
    l.notes.push(
      `kept on disk with their top-level package, as zipimport would show no source lines for them (not UTF-8): ${notUtf8.join(', ')}`,
    );
  if (stale > 0)
    l.notes.push(
      `${stale} level-0 caches not zipped (their sources are zipped alone): stale, or their source's mtime is before 1980 (a zip cannot hold it), so zipimport would not use them`,
    );
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  l.notes.push(
    `${path.posix.basename(rel)}: zipimport loads level-0 bytecode at -O and -OO too (asserts and docstrings stay); it checks each .pyc against its source's time in the archive, written in local time (${zone}): run Python in the same timezone, or it compiles those modules in memory at every start`,
  );
}

export const ZIP_DATA: Carried = {
  kind: 'layout',
  id: 'zip-data',
  title: 'Zip the data-like modules (encodings, pydoc_data)',
  seedRef: '001 Solution 3',
  risks: [
    { constraint: 2, why: 'zipped modules cannot be hot-patched' },
    { constraint: 1, why: 'code reading files beside __file__ breaks' },
  ],
  actionable: true,
  note: 'one zip with sources and level-0 bytecode, deflated (level 6); data files stay',
  rank: 2,
  layout: zipLayout('zip-data', 'data'),
  // One archive: zip-stdlib holds what zip-data would.
  subsumedBy: 'zip-stdlib',
};

export const ZIP_STDLIB: Carried = {
  kind: 'layout',
  id: 'zip-stdlib',
  title: 'Zip the pure-Python stdlib (pythonXY.zip)',
  seedRef: '001 Solution 4',
  risks: [
    { constraint: 1, why: 'code relying on __file__ paths and data files breaks' },
    { constraint: 2, why: 'no hot-patching; slower imports' },
    { constraint: 5, why: 'not a layout upstream supports on Linux' },
  ],
  actionable: true,
  note: 'sources and level-0 bytecode in one zip; site-packages, extensions, data and packages holding data stay',
  rank: 3,
  layout: zipLayout('zip-stdlib', 'stdlib'),
};
