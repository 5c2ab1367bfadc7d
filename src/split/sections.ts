/**
 * The sections of a policy: each file's package by its kind (caches, optimized caches, test code, sources
 * of a sourceless layout), then each directory by the files below it, then the sorted lists.
 */
import {
  K_BYTECODE0,
  K_BYTECODE1,
  K_BYTECODE2,
  K_DIRECTORY,
  K_LEGACY,
  K_SOURCE,
  K_SYMLINK,
} from '../model/kinds.js';
import type { Model } from '../model/model.js';
import { parseCacheName } from '../python/layout.js';
import { TYPE_DIR } from '../scan/table.js';
import type { SplitPolicy, SplitSectionFiles } from './split.js';

/** The sub-package names of each policy after the main package's name, in order. */
export function sectionNames(policy: SplitPolicy, name: string): string[] {
  switch (policy) {
    case 'bytecode':
      return [name, `${name}-bytecode-cache`, `${name}-bytecode-cache-opt-1`, `${name}-bytecode-cache-opt-2`];
    case 'optimized':
      return [name, `${name}-bytecode-cache-opt-1`, `${name}-bytecode-cache-opt-2`];
    case 'tests':
      return [name, `${name}-tests`];
    case 'sources':
      return [name, `${name}-sources`];
  }
}

const NOTHING_TO_SPLIT: Record<SplitPolicy, string> = {
  bytecode: 'nothing to split: the tree has no bytecode caches (__pycache__/NAME.TAG[.opt-N].pyc)',
  optimized: 'nothing to split: the tree has no optimized bytecode caches (opt-1, opt-2)',
  tests: 'nothing to split: the tree has no test code (test, tests, idle_test packages)',
  sources:
    'nothing to split: not a sourceless layout (no __pysources__ directory, no source with a legacy .pyc beside it)',
};

/** A sourceless layout (legacy .pyc files) whose sources are gone, as `plan sourceless` leaves it. */
const SOURCELESS_NO_SOURCES =
  'nothing to split: a sourceless layout with no sources left to put in a sources package (plan sourceless removes them; plan pysources keeps them in __pysources__/)';

/**
 * The section lists of a policy over the model's entries (`installed`: their installed paths), the main
 * package first, empty sub-packages left out; a split with nothing to split adds its warning.
 */
export function assignSections(
  model: Model,
  installed: string[],
  policy: SplitPolicy,
  name: string,
  warnings: string[],
): SplitSectionFiles[] {
  const e = new Entries(model);
  const src: SourcesLayout =
    policy === 'sources' ? sourcesLayout(e) : { inPysources: new Uint8Array(e.n), legacyPyc: new Set() };
  const files = fileSections(e, policy, src);
  const dirSection = dirSections(e, files);
  const lists = sectionLists(sectionNames(policy, name), installed, files, dirSection);
  const sections = lists.filter((s, k) => k === 0 || s.files.length + s.dirs.length > 0);
  if (sections.length === 1)
    warnings.push(
      policy === 'sources' && src.legacyPyc.size > 0 ? SOURCELESS_NO_SOURCES : NOTHING_TO_SPLIT[policy],
    );
  return sections;
}

/** The model's entries as the policies read them. */
class Entries {
  readonly t: Model['scan']['table'];
  readonly c: Model['classification'];
  readonly n: number;
  readonly rootEntry: number;

  constructor(model: Model) {
    this.t = model.scan.table;
    this.c = model.classification;
    this.n = this.t.count;
    this.rootEntry = model.scan.roots[0]!.entry;
  }

  name(i: number): string {
    const raw = this.t.name[i]!;
    return typeof raw === 'string' ? raw : raw.toString('latin1');
  }

  /** A symlink counts by its name (a cache name in __pycache__ is a cache for the import system). */
  kind(i: number): number {
    const k = this.c.kind[i]!;
    if (k !== K_SYMLINK) return k;
    const nm = this.name(i);
    const p = this.t.parent[i]!;
    if (p !== -1 && this.t.name[p] === '__pycache__') {
      const cache = parseCacheName(nm);
      if (cache !== undefined) return K_BYTECODE0 + cache.level;
    }
    if (nm.endsWith('.py')) return K_SOURCE;
    if (nm.endsWith('.pyc') || nm.endsWith('.pyo')) return K_LEGACY;
    return k;
  }
}

interface SourcesLayout {
  /** Directories that are (inside) __pysources__. */
  inPysources: Uint8Array;
  /** The legacy .pyc files, as `PARENT/STEM`. */
  legacyPyc: Set<string>;
}

/** sources: which directories are (inside) __pysources__, and which legacy .pyc files exist. */
function sourcesLayout(e: Entries): SourcesLayout {
  const { t, n } = e;
  const inPysources = new Uint8Array(n);
  const legacyPyc = new Set<string>();
  for (let i = 0; i < n; i++) {
    const p = t.parent[i]!;
    if (p === -1) continue;
    if (inPysources[p] === 1 || (t.type[i] === TYPE_DIR && e.name(i) === '__pysources__')) inPysources[i] = 1;
    if (e.kind(i) === K_LEGACY && t.name[p] !== '__pycache__' && e.name(i).endsWith('.pyc')) {
      legacyPyc.add(`${p}/${e.name(i).slice(0, -4)}`);
    }
  }
  return { inPysources, legacyPyc };
}

interface FileSections {
  /** Each file's section (-1: a directory or the root). */
  fileSection: Int8Array;
  /** Files the main package lists as %ghost. */
  ghost: Uint8Array;
  /** The section an empty directory goes to (the one it is code of). */
  dirPreference: Int8Array;
}

function fileSections(e: Entries, policy: SplitPolicy, src: SourcesLayout): FileSections {
  const { t, c, n } = e;
  const fileSection = new Int8Array(n).fill(-1);
  const ghost = new Uint8Array(n);
  const dirPreference = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    if (i === e.rootEntry || t.parent[i] === -1) continue;
    if (c.kind[i] === K_DIRECTORY) {
      if (policy === 'tests' && c.test[i] === 1) dirPreference[i] = 1;
      if (policy === 'sources' && src.inPysources[i] === 1) dirPreference[i] = 1;
      continue;
    }
    const s = sectionOf(e, policy, src, i);
    fileSection[i] = s.section;
    if (s.ghost) ghost[i] = 1;
  }
  return { fileSection, ghost, dirPreference };
}

const MAIN = { section: 0, ghost: false };

/** One file's section under a policy, and whether main lists it as %ghost. */
function sectionOf(
  e: Entries,
  policy: SplitPolicy,
  src: SourcesLayout,
  i: number,
): { section: number; ghost: boolean } {
  const k = e.kind(i);
  switch (policy) {
    case 'bytecode':
      return k >= K_BYTECODE0 && k <= K_BYTECODE2 ? { section: 1 + (k - K_BYTECODE0), ghost: true } : MAIN;
    case 'optimized':
      return k === K_BYTECODE1 || k === K_BYTECODE2
        ? { section: k === K_BYTECODE1 ? 1 : 2, ghost: true }
        : MAIN;
    case 'tests':
      return e.c.test[i] === 1 ? { section: 1, ghost: false } : MAIN;
    case 'sources': {
      if (src.inPysources[i] === 1) return { section: 1, ghost: false };
      const stem = `${e.t.parent[i]}/${e.name(i).slice(0, -3)}`;
      return k === K_SOURCE && src.legacyPyc.has(stem) ? { section: 1, ghost: false } : MAIN;
    }
  }
}

/**
 * Directories: a directory only one section's files (or %ghost entries: main's) live in belongs to that
 * section; one shared by several, or holding nothing, to main (or to the section it is code of).
 */
function dirSections(e: Entries, files: FileSections): Int8Array {
  const { t, c, n } = e;
  const { fileSection, ghost, dirPreference } = files;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (fileSection[i]! >= 0) mask[i] = (1 << fileSection[i]!) | (ghost[i] === 1 ? 1 : 0);
  }
  const dirSection = new Int8Array(n).fill(-1);
  for (let i = n - 1; i >= 0; i--) {
    if (c.kind[i] === K_DIRECTORY) {
      const m = mask[i]!;
      let s: number;
      if (t.parent[i] === -1) s = 0;
      else if (m === 0) s = dirPreference[i]!;
      else if ((m & (m - 1)) === 0) s = 31 - Math.clz32(m);
      else s = 0;
      dirSection[i] = s;
      mask[i] = m | (1 << s);
    }
    const p = t.parent[i]!;
    if (p !== -1) mask[p]! |= mask[i]!;
  }
  return dirSection;
}

/** The lists of every section, in table order (sorted later). */
function sectionLists(
  names: string[],
  installed: string[],
  files: FileSections,
  dirSection: Int8Array,
): SplitSectionFiles[] {
  const { fileSection, ghost } = files;
  const lists = names.map((nm) => ({
    name: nm,
    files: [] as string[],
    dirs: [] as string[],
    ghosts: [] as string[],
  }));
  for (let i = 0; i < installed.length; i++) {
    if (dirSection[i]! >= 0) lists[dirSection[i]!]!.dirs.push(installed[i]!);
    else if (fileSection[i]! >= 0) {
      lists[fileSection[i]!]!.files.push(installed[i]!);
      if (ghost[i] === 1) lists[0]!.ghosts.push(installed[i]!);
    }
  }
  return lists;
}
