/**
 * `split()`: the file lists of sub-packages of a Python tree, as a distribution would package it (seed 001,
 * Solution 5 and Problem 5.3: the bytecode cache in its own packages, `%ghost` in the package with the
 * sources), and the check that the lists are sound: disjoint, covering the tree, with a main package that is a
 * file-wise subset of the whole. Read-only: the tree is scanned and classified by buildModel() and nothing in it
 * is changed. Pure functions render the lists for rpm (`%files -f`), as plain lists, and check a split.
 *
 * rpm's %files parser (measured on rpm 4.18 by building packages; see test/split-rpm.test.ts):
 * - every line is macro-expanded three times, in a `-f` manifest as inline: a literal `%` is written as eight;
 * - a name with white space is written in double quotes and is then never globbed; a double quote in such a
 *   name cannot be written at all;
 * - a name without white space but with a glob character (`*?[]{}`) is globbed against the build root: `*`,
 *   `?`, `[`, `]` are escaped as bracket expressions (`[*]`); a backslash is not an escape, and `{`, `}`,
 *   `\` and `"` cannot appear in a pattern that matches them, so each becomes `?`, which is used only when the
 *   pattern matches no other path of the tree;
 * - a control character (tab, newline) is refused ("Illegal character").
 * Names rpm cannot take, and names that are not UTF-8, are problems of the report (code ERPMNAME) and become
 * comment lines in the rpm output, so that rpmbuild stops on the unpackaged file instead of guessing.
 */
import path from 'node:path';
import { PyfloppyError, readUserFile } from '../errors.js';
import { buildModel } from '../model/model.js';
import { displayName, type EntryTable, TYPE_DIR } from '../scan/table.js';
import { VERSION } from '../version.js';
import { isSplitPolicy, SPLIT_POLICIES, type SplitPolicy } from './policies.js';
import { assignSections } from './sections.js';

export { sectionNames } from './sections.js';

export const SPLIT_SCHEMA = 'pyfloppy.split/1';

export { isSplitPolicy, SPLIT_POLICIES, type SplitPolicy } from './policies.js';

/** What one package owns: installed paths (the prefix joined with the path in the tree). */
export interface SplitSectionFiles {
  name: string;
  /** Files and symlinks it owns. */
  files: string[];
  /** Directories it owns (`%dir`). */
  dirs: string[];
  /** Paths it lists as `%ghost`: owned as real files by another package. */
  ghosts: string[];
}

/** A split as checkSplit() takes it: the first section is the main (minimal) package. */
export interface SplitResult {
  sections: SplitSectionFiles[];
}

export interface SplitSection extends SplitSectionFiles {
  counts: { files: number; dirs: number; ghosts: number };
  /** Bytes of the files and directories it owns, each inode once per section. */
  apparentBytes: number;
  allocatedBytes: number;
}

/** Every entry of the tree (the root included) by installed path; symlinks and other non-directories are files. */
export interface TreeListing {
  paths: ReadonlyMap<string, 'dir' | 'file'>;
}

export type SplitRule = 'disjoint' | 'cover' | 'subset';
export const SPLIT_RULES: readonly SplitRule[] = ['disjoint', 'cover', 'subset'];

export interface SplitViolation {
  rule: SplitRule;
  /** The installed path concerned. */
  path: string;
  /** The sections involved (owners, or the one that lists the path). */
  sections: string[];
  message: string;
}

export interface SplitCheck {
  ok: boolean;
  counts: Record<SplitRule, number>;
  violations: SplitViolation[];
}

export interface SplitProblem {
  path: string;
  code: string;
  message: string;
}

export interface SplitReport {
  schema: typeof SPLIT_SCHEMA;
  generator: { name: 'pyfloppy'; version: string };
  policy: SplitPolicy;
  /** The tree as given. */
  root: string;
  /** The path the tree has on the target system; section paths are below it. */
  prefix: string;
  /** The main package's name (the first section). */
  name: string;
  /** The split re-checked from a file (--check), else null. */
  checkedFile: string | null;
  tree: { entries: number; files: number; dirs: number };
  sections: SplitSection[];
  check: SplitCheck;
  /** Not errors: nothing to split, hardlinks that become copies. */
  warnings: string[];
  /** Unreadable parts of the tree, names rpm cannot take (ERPMNAME). */
  problems: SplitProblem[];
}

export interface SplitOptions {
  /** The tree: one directory. */
  path: string;
  policy?: SplitPolicy;
  /** Where the tree will be installed (absolute); default: the path itself, made absolute. */
  prefix?: string;
  /** The main package's name; default: the tree's basename. */
  name?: string;
  /** A split to re-check (a pyfloppy.split/1 JSON file, possibly edited) instead of computing one. */
  checkFile?: string;
  onProgress?: (entries: number, apparentBytes: number) => void;
  workers?: number;
}

/** An rpm package name: what rpmbuild takes in Name: and %package -n. */
const RPM_NAME = /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/;

export async function split(options: SplitOptions): Promise<SplitReport> {
  const { given, policy, prefix, name } = resolveSplit(options);
  const model = await buildModel({
    paths: [options.path],
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(options.workers === undefined ? {} : { workers: options.workers }),
  });
  const tree = installedTree(model.scan.table, prefix);
  const warnings: string[] = [];
  const sectionsFiles = given?.sections ?? assignSections(model, tree.installed, policy, name, warnings);
  for (const s of sectionsFiles) {
    s.files.sort(byPath);
    s.dirs.sort(byPath);
    s.ghosts.sort(byPath);
  }
  const sections = measureSections(model.scan.table, tree.installed, sectionsFiles, warnings);
  return {
    schema: SPLIT_SCHEMA,
    generator: { name: 'pyfloppy', version: VERSION },
    policy,
    root: options.path,
    prefix,
    name: sections[0]?.name ?? name,
    checkedFile: options.checkFile ?? null,
    tree: { entries: tree.installed.length, files: tree.files, dirs: tree.dirs },
    sections,
    check: checkSplit({ sections }, { paths: tree.listing }),
    warnings,
    problems: [...model.problems.map((p) => ({ ...p })), ...nameProblems(tree)],
  };
}

/** The split's policy, prefix and main package name from the options and the file to re-check, if any. */
function resolveSplit(options: SplitOptions): {
  given: ReturnType<typeof readSplitFile> | undefined;
  policy: SplitPolicy;
  prefix: string;
  name: string;
} {
  if (options.policy === undefined && options.checkFile === undefined) {
    throw new PyfloppyError('EUSAGE', 'a policy is required', {
      hint: `--policy ${SPLIT_POLICIES.join('|')}`,
    });
  }
  if (options.policy !== undefined && !isSplitPolicy(options.policy)) {
    throw new PyfloppyError('EUSAGE', `unknown policy '${String(options.policy)}'`, {
      hint: `one of: ${SPLIT_POLICIES.join(', ')}`,
    });
  }
  const given = options.checkFile === undefined ? undefined : readSplitFile(options.checkFile);
  if (given !== undefined && options.policy !== undefined && given.policy !== options.policy) {
    throw new PyfloppyError(
      'EUSAGE',
      `${options.checkFile} is a split by policy '${given.policy}', not '${options.policy}'`,
      { hint: `run with --policy ${given.policy}, or without --policy` },
    );
  }
  const policy = given?.policy ?? options.policy!;
  const prefix = normalizePrefix(options.prefix ?? given?.prefix ?? path.resolve(options.path));
  const name = options.name ?? given?.sections[0]?.name ?? path.basename(path.resolve(options.path));
  if (!RPM_NAME.test(name)) {
    throw new PyfloppyError('EUSAGE', `'${name}' is not a package name rpm accepts`, {
      hint: 'give one with --name (letters, digits and ._+- only)',
    });
  }
  return { given, policy, prefix, name };
}

interface InstalledTree {
  /** Each entry's installed path. */
  installed: string[];
  /** Entries whose name, or a parent's, is not UTF-8. */
  notUtf8: Uint8Array;
  listing: Map<string, 'dir' | 'file'>;
  files: number;
  dirs: number;
}

/** Installed paths, built parent-first (a directory precedes its children in the table). */
function installedTree(t: EntryTable, prefix: string): InstalledTree {
  const n = t.count;
  const installed: string[] = new Array<string>(n);
  const notUtf8 = new Uint8Array(n);
  const listing = new Map<string, 'dir' | 'file'>();
  let files = 0;
  let dirs = 0;
  for (let i = 0; i < n; i++) {
    const p = t.parent[i]!;
    if (p === -1) installed[i] = prefix;
    else {
      const raw = t.name[i]!;
      if (typeof raw !== 'string' || notUtf8[p] === 1) notUtf8[i] = 1;
      installed[i] = joinInstalled(installed[p]!, displayName(raw));
    }
    const isDir = t.type[i] === TYPE_DIR;
    if (isDir) dirs++;
    else files++;
    listing.set(installed[i]!, isDir ? 'dir' : 'file');
  }
  return { installed, notUtf8, listing, files, dirs };
}

/** Bytes per section (each inode once per section); hardlinks whose names fall into several sections. */
function measureSections(
  t: EntryTable,
  installed: string[],
  sectionsFiles: SplitSectionFiles[],
  warnings: string[],
): SplitSection[] {
  const entryOf = new Map<string, number>();
  for (let i = 0; i < installed.length; i++) entryOf.set(installed[i]!, i);
  const inodeSections = new Map<string, Set<number>>();
  const sections: SplitSection[] = sectionsFiles.map((s, k) => {
    let apparent = 0;
    let allocated = 0;
    const seen = new Set<string>();
    for (const p of [...s.dirs, ...s.files]) {
      const i = entryOf.get(p);
      if (i === undefined) continue;
      if (t.nlink[i]! > 1 && t.type[i] !== TYPE_DIR) {
        const key = t.inodeKey(i);
        let set = inodeSections.get(key);
        if (set === undefined) inodeSections.set(key, (set = new Set()));
        set.add(k);
        if (seen.has(key)) continue;
        seen.add(key);
      }
      apparent += t.size[i]!;
      allocated += t.blocks[i]! * 512;
    }
    const counts = { files: s.files.length, dirs: s.dirs.length, ghosts: s.ghosts.length };
    const { name, files, dirs, ghosts } = s;
    return { name, files, dirs, ghosts, counts, apparentBytes: apparent, allocatedBytes: allocated };
  });
  const spanning = [...inodeSections.values()].filter((s) => s.size > 1).length;
  if (spanning > 0) {
    warnings.push(
      `${spanning} hardlinked file(s) have names in several sections: each package installs its own copy`,
    );
  }
  return sections;
}

/** Names a file list cannot hold (ERPMNAME): not UTF-8, or not writable for rpm. */
function nameProblems(tree: InstalledTree): SplitProblem[] {
  const problems: SplitProblem[] = [];
  const all = [...tree.listing.keys()];
  tree.installed.forEach((p, i) => {
    if (tree.notUtf8[i] === 1) {
      problems.push({
        path: p,
        code: 'ERPMNAME',
        message: 'the name is not UTF-8 (shown with \\xNN escapes): it cannot be written in a file list',
      });
      return;
    }
    const r = rpmFileName(p, all);
    if (!r.ok) problems.push({ path: p, code: 'ERPMNAME', message: r.reason });
  });
  return problems;
}

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function joinInstalled(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function normalizePrefix(p: string): string {
  if (!p.startsWith('/')) {
    throw new PyfloppyError('EUSAGE', `the prefix must be an absolute path: ${p}`, {
      hint: 'the path the tree will have on the target system, e.g. --prefix /usr/lib64/python3.12',
    });
  }
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * Check a split against the tree: (a) disjoint: no path owned (file or %dir) by two sections, or listed twice;
 * (b) cover: every path of the tree owned by exactly one section, as its type, and nothing else; (c) subset:
 * the main package (the first section) owns and ghosts only paths of the tree, as their type, owns the
 * directories its files live in, and every path it ghosts is owned as a file by another section. Pure.
 */
export function checkSplit(split: SplitResult, tree: TreeListing): SplitCheck {
  const v = new Violations();
  const own = ownership(split);
  const mainName = split.sections[0]?.name;
  checkDisjoint(own, v);
  checkCover(own, tree, v);
  if (mainName !== undefined) checkMainDirs(split.sections[0]!, own, tree, v);
  checkGhosts(own, tree, mainName, v);
  return v.result();
}

type Owner = { section: string; as: 'dir' | 'file'; main: boolean };

/** Who owns and who ghosts each path (trailing slashes trimmed). */
interface Ownership {
  owners: Map<string, Owner[]>;
  ghostedBy: Map<string, string[]>;
}

class Violations {
  private readonly list: SplitViolation[] = [];

  add(rule: SplitRule, p: string, sections: string[], message: string): void {
    this.list.push({ rule, path: p, sections, message });
  }

  /** Counted by rule, sorted by rule, then path. */
  result(): SplitCheck {
    const violations = this.list;
    const counts: Record<SplitRule, number> = { disjoint: 0, cover: 0, subset: 0 };
    for (const v of violations) counts[v.rule]++;
    violations.sort(
      (a, b) => SPLIT_RULES.indexOf(a.rule) - SPLIT_RULES.indexOf(b.rule) || byPath(a.path, b.path),
    );
    return { ok: violations.length === 0, counts, violations };
  }
}

function ownership(split: SplitResult): Ownership {
  const owners = new Map<string, Owner[]>();
  const ghostedBy = new Map<string, string[]>();
  split.sections.forEach((s, k) => {
    const own = (p: string, as: 'dir' | 'file'): void => {
      const key = trimSlash(p);
      let o = owners.get(key);
      if (o === undefined) owners.set(key, (o = []));
      o.push({ section: s.name, as, main: k === 0 });
    };
    for (const p of s.files) own(p, 'file');
    for (const p of s.dirs) own(p, 'dir');
    for (const g of s.ghosts) {
      const key = trimSlash(g);
      let o = ghostedBy.get(key);
      if (o === undefined) ghostedBy.set(key, (o = []));
      o.push(s.name);
    }
  });
  return { owners, ghostedBy };
}

/** (a) disjoint: no path owned twice, ghosted twice by one section, or both owned and ghosted by it. */
function checkDisjoint({ owners, ghostedBy }: Ownership, v: Violations): void {
  for (const [p, o] of owners) {
    if (o.length < 2) continue;
    const names = o.map((x) => x.section);
    const distinct = [...new Set(names)];
    v.add(
      'disjoint',
      p,
      distinct,
      distinct.length === 1
        ? `listed ${o.length} times in ${distinct[0]}`
        : `owned by ${distinct.length} sections: ${distinct.join(', ')}`,
    );
  }
  for (const [p, g] of ghostedBy) {
    const counts = new Map<string, number>();
    for (const s of g) counts.set(s, (counts.get(s) ?? 0) + 1);
    for (const [s, k] of counts) {
      if (k > 1) v.add('disjoint', p, [s], `listed ${k} times as %ghost in ${s}`);
      if (owners.get(p)?.some((x) => x.section === s))
        v.add('disjoint', p, [s], `both owned and %ghost in ${s}`);
    }
  }
}

/** (b) cover, and the type and existence of what is owned. */
function checkCover({ owners }: Ownership, tree: TreeListing, v: Violations): void {
  for (const [p, type] of tree.paths) {
    if (!owners.has(p)) {
      v.add('cover', p, [], `${type === 'dir' ? 'directory' : 'file'} of the tree owned by no section`);
    }
  }
  for (const [p, o] of owners) {
    const type = tree.paths.get(p);
    for (const x of o) {
      const rule: SplitRule = x.main ? 'subset' : 'cover';
      if (type === undefined) {
        v.add(rule, p, [x.section], `owned by ${x.section} but not in the tree`);
      } else if (type !== x.as) {
        v.add(
          rule,
          p,
          [x.section],
          x.as === 'dir'
            ? `listed as %dir by ${x.section} but is a file in the tree`
            : `listed as a file by ${x.section} but is a directory in the tree (rpm would package everything below it)`,
        );
      }
    }
  }
}

/** (c) subset: main's files in main's directories. */
function checkMainDirs(
  main: SplitSectionFiles,
  { owners }: Ownership,
  tree: TreeListing,
  v: Violations,
): void {
  const mainOwns = (p: string): boolean => owners.get(p)?.some((x) => x.main) === true;
  for (const p of [...main.files, ...main.dirs]) {
    const parent = path.posix.dirname(trimSlash(p));
    if (parent === trimSlash(p) || tree.paths.get(parent) !== 'dir') continue;
    if (!mainOwns(parent)) {
      v.add(
        'subset',
        trimSlash(p),
        [main.name],
        `lies in ${parent}, which ${main.name} does not own: installed alone, the directory has no owner`,
      );
    }
  }
}

/** (c) subset, (b) cover for the other sections: every %ghost a file of the tree owned elsewhere. */
function checkGhosts(
  { owners, ghostedBy }: Ownership,
  tree: TreeListing,
  mainName: string | undefined,
  v: Violations,
): void {
  for (const [p, g] of ghostedBy) {
    for (const s of new Set(g)) {
      const isMain = s === mainName;
      const rule: SplitRule = isMain ? 'subset' : 'cover';
      const type = tree.paths.get(p);
      if (type === undefined) v.add(rule, p, [s], `%ghost in ${s} but not in the tree`);
      else if (type === 'dir') v.add(rule, p, [s], `%ghost in ${s} but a directory in the tree`);
      const realOwners = (owners.get(p) ?? []).filter((x) => x.section !== s && x.as === 'file');
      if (type !== undefined && realOwners.length === 0) {
        v.add(
          rule,
          p,
          [s],
          `%ghost in ${s} but owned by no other section: installing every package leaves it missing`,
        );
      }
    }
  }
}

function trimSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.replace(/\/+$/, '') || '/' : p;
}

/** A split file (pyfloppy.split/1) read for --check: the fields checkSplit needs, validated. */
function readSplitFile(file: string): { policy: SplitPolicy; prefix: string; sections: SplitSectionFiles[] } {
  const text = readUserFile(file);
  const bad = (why: string): PyfloppyError =>
    new PyfloppyError('EUSAGE', `${file} is not a pyfloppy split: ${why}`, {
      hint: `write one with: pyfloppy split PATH --policy P --format json > ${path.basename(file)}`,
    });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (typeof data !== 'object' || data === null) throw bad('not a JSON object');
  const o = data as Record<string, unknown>;
  if (o.schema !== SPLIT_SCHEMA) throw bad(`schema is ${JSON.stringify(o.schema)}, not "${SPLIT_SCHEMA}"`);
  if (typeof o.policy !== 'string' || !isSplitPolicy(o.policy)) throw bad('no known policy');
  if (typeof o.prefix !== 'string') throw bad('no prefix');
  if (!Array.isArray(o.sections) || o.sections.length === 0) throw bad('no sections');
  const strings = (v: unknown, what: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
      throw bad(`${what} is not a list of paths`);
    return v;
  };
  const sections = (o.sections as unknown[]).map((s, k) => {
    if (typeof s !== 'object' || s === null) throw bad(`section ${k} is not an object`);
    const r = s as Record<string, unknown>;
    if (typeof r.name !== 'string' || r.name === '') throw bad(`section ${k} has no name`);
    return {
      name: r.name,
      files: strings(r.files, `${r.name}.files`),
      dirs: strings(r.dirs, `${r.name}.dirs`),
      ghosts: strings(r.ghosts, `${r.name}.ghosts`),
    };
  });
  return { policy: o.policy, prefix: o.prefix, sections };
}

/** A name as a line of an rpm %files list, or why rpm cannot take it. */
export type RpmName = { ok: true; text: string } | { ok: false; reason: string };

const GLOB_CHARS = /[*?[\]{}]/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\x00-\x1f\x7f]/;

/**
 * The path as rpm's %files parser reads it back to exactly this path (rpm 4.18, measured): see the module
 * comment. `universe` is every path of the tree, for the one case that needs it (a `?` must match no other).
 */
export function rpmFileName(p: string, universe: Iterable<string>): RpmName {
  const percent = (s: string): string => s.replaceAll('%', '%%%%%%%%');
  if (CONTROL_CHARS.test(p)) {
    return { ok: false, reason: 'a control character (tab, newline, ...) in the name: rpm refuses it' };
  }
  if (/\s/.test(p)) {
    if (p.includes('"')) {
      return { ok: false, reason: 'a double quote in a name with white space: rpm cannot list it' };
    }
    return { ok: true, text: `"${percent(p)}"` };
  }
  if (!GLOB_CHARS.test(p)) return { ok: true, text: percent(p) };
  let pattern = '';
  let re = '';
  let wild = false;
  for (const ch of p) {
    if (ch === '*' || ch === '?' || ch === '[' || ch === ']') {
      pattern += `[${ch}]`;
      re += `\\${ch}`;
    } else if (ch === '{' || ch === '}' || ch === '\\' || ch === '"') {
      pattern += '?';
      re += '[^/]';
      wild = true;
    } else {
      pattern += ch;
      re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  if (wild) {
    const r = new RegExp(`^${re}$`, 'u');
    for (const q of universe) {
      if (q !== p && r.test(q)) {
        return {
          ok: false,
          reason: `rpm globs this name, and the only pattern for its {, }, \\ or " also matches ${q}`,
        };
      }
    }
  }
  return { ok: true, text: percent(pattern) };
}

/** Every path a split names: the universe the `?` of rpmFileName() must match alone in. */
function splitPaths(r: SplitReport): string[] {
  const out = new Set<string>();
  for (const s of r.sections) for (const l of [s.files, s.dirs, s.ghosts]) for (const p of l) out.add(p);
  return [...out];
}

/**
 * One section as an rpm file list (for `%files -n NAME -f NAME.files`): `%dir` lines for its directories,
 * plain lines for its files, `%ghost` lines, in path order. Paths rpm cannot take become comment lines.
 */
export function renderRpmSection(r: SplitReport, s: SplitSectionFiles, universe = splitPaths(r)): string {
  const unlisted = new Map(r.problems.filter((x) => x.code === 'ERPMNAME').map((x) => [x.path, x.message]));
  const rows: Array<[string, string]> = [];
  const line = (p: string, directive: string): void => {
    const why = unlisted.get(p);
    const name = why === undefined ? rpmFileName(p, universe) : ({ ok: false, reason: why } as const);
    rows.push([
      p,
      name.ok
        ? `${directive}${name.text}`
        : `# pyfloppy: not listed (${name.reason}): ${JSON.stringify(p).replaceAll('%', '%%%%%%%%')}`,
    ]);
  };
  for (const d of s.dirs) line(d, '%dir ');
  for (const f of s.files) line(f, '');
  for (const g of s.ghosts) line(g, '%ghost ');
  rows.sort((a, b) => byPath(a[0], b[0]));
  return rows.map((x) => `${x[1]}\n`).join('');
}

/** Every section for pasting into a spec: each list preceded by its `%files -n NAME` line. */
export function renderRpm(r: SplitReport): string {
  const universe = splitPaths(r);
  return r.sections.map((s) => `%files -n ${s.name}\n${renderRpmSection(r, s, universe)}`).join('\n');
}

/** One section as a plain list: the paths it owns (directories and files), one a line, in path order. */
export function renderListSection(s: SplitSectionFiles): string {
  return [...s.dirs, ...s.files]
    .sort(byPath)
    .map((p) => `${p}\n`)
    .join('');
}

/** Every section as plain lists, each preceded by a `# NAME` line. */
export function renderList(r: SplitReport): string {
  return r.sections.map((s) => `# ${s.name}\n${renderListSection(s)}`).join('\n');
}
