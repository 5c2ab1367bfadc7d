/** `pyfloppy dedup`: argument parsing and output; the work is the library's dedup(). */
import type { Command } from 'commander';
import { type DedupReport, dedup } from '../dedup/dedup.js';
import { PyfloppyError } from '../errors.js';
import { formatBytes, formatCount, plural } from '../report/format.js';
import type { Io, RunState } from './main.js';
import { scanProgress, warnUnreadable } from './progress.js';

interface DedupFlags {
  all?: boolean;
  dryRun?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function registerDedup(program: Command, io: Io, state: RunState): void {
  program
    .command('dedup')
    .summary('hardlink byte-identical bytecode across optimization levels (as compileall --hardlink-dupes)')
    .description(
      [
        'Hardlink byte-identical bytecode caches of one module across optimization levels: exactly the pairs',
        '`python -m compileall --hardlink-dupes` links (levels sorted, each compared with the previous one',
        "present), on trees compiled by anyone. The lower level's file survives and keeps its metadata.",
        '',
        'Safe: candidates are chosen by name and size, bytes decide; right before each link both files are',
        'checked against what they were when compared (device, inode, size, mtime, ctime) and a changed file is',
        'left alone; a file is replaced by linking to a temporary sibling and renaming it over the name, so every',
        'path holds its old or its new identical content at every instant. Symlinks are never followed; nothing',
        'is copied or symlinked instead of linked. A second run changes nothing.',
        '',
        'Each link acts inside directories opened one by one without following symlinks and checked again',
        'right before each system call: a directory swapped for a symlink is refused (reason "unsafe"). Files',
        'whose inode also has names outside the given paths are left alone (said in the output). One changing',
        'run per tree: a second one is refused while .pyfloppy-lock names a live holder. Temporaries left by',
        'an interrupted pyfloppy run are removed first.',
      ].join('\n'),
    )
    .argument('<path...>', 'directories to deduplicate')
    .option(
      '--all',
      'also link any byte-identical regular files on one device with the same owner, mode and mtime (never empty files); identical files whose metadata differ are reported',
    )
    .option('-n, --dry-run', 'decide everything, change nothing, and list what would be linked')
    .option('--json', 'print the report as JSON (schema pyfloppy.dedup/1)')
    .option('-v, --verbose', 'list every pair linked')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  pyfloppy dedup /usr/lib64/python3.12               # as compileall -o0 -o1 -o2 --hardlink-dupes would',
        '  pyfloppy dedup --dry-run ./buildroot/usr/lib/python3.12',
        '  pyfloppy dedup --all --json /opt/venv > dedup.json',
        '',
        'Exit status: 0 done (also when there was nothing to do), 1 some pairs were skipped for errors',
        '(a file changed, cross-device, too many links, read-only, no space, ...: each is listed), 2 usage error',
        'or a tree on a read-only file system (one line: nothing could be linked).',
      ].join('\n'),
    )
    .action(async (paths: string[], flags: DedupFlags) => {
      const progress = scanProgress(io.stderr);
      let report: DedupReport;
      try {
        report = await dedup({
          paths,
          all: flags.all === true,
          dryRun: flags.dryRun === true,
          onProgress: (n, b) => progress.update(n, b),
        });
      } finally {
        progress.done();
      }
      refuseReadOnly(paths, report);
      if (flags.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else io.stdout.write(renderDedup(report, flags.verbose === true || report.dryRun));
      const errors = report.skipped.filter((s) => s.reason !== 'metadata').length;
      warnUnreadable(io, report.problems);
      if (errors > 0) state.exitCode = 1;
    });
}

/**
 * A tree on a read-only mount is one environment error (exit 2), not a finding per pair: when nothing was
 * linked and every pair was refused with EROFS, say it once.
 */
function refuseReadOnly(paths: string[], r: DedupReport): void {
  if (r.dryRun || r.linked.length > 0 || r.skipped.length === 0) return;
  if (!r.skipped.every((s) => s.reason === 'EROFS')) return;
  throw new PyfloppyError(
    'EROFS',
    `${paths.join(', ')}: read-only file system: none of ${plural(r.skipped.length, 'pair')} could be linked (EROFS)`,
    { hint: 'the file system is mounted read-only: remount it read-write, or work on a copy' },
  );
}

export function renderDedup(r: DedupReport, list: boolean): string {
  const out: string[] = [];
  const verb = r.dryRun ? 'would link' : 'linked';
  const byRule = (rule: string) => r.linked.filter((p) => p.rule === rule).length;
  const rules = [
    `${formatCount(byRule('bytecode'))} bytecode`,
    ...(r.all ? [`${formatCount(byRule('identical'))} identical files`] : []),
  ];
  out.push(
    `pyfloppy dedup${r.dryRun ? ' (dry run: nothing changed)' : ''}: ${verb} ${plural(r.saved.pairs, 'pair')} (${rules.join(', ')}), ${r.dryRun ? 'would free' : 'freed'} ${formatBytes(r.saved.allocatedBytes)} on disk (${formatBytes(r.saved.apparentBytes)} apparent)`,
  );
  out.push(`already linked: ${plural(r.alreadyLinked, 'pair')}`);
  const withDiff = r.linked.filter((p) => p.metadataDiffers.length > 0);
  if (withDiff.length > 0) {
    const count = (k: string) => withDiff.filter((p) => (p.metadataDiffers as string[]).includes(k)).length;
    out.push(
      `${verb} although metadata differ (the survivor's is kept): ${plural(withDiff.length, 'pair')} (mode ${count('mode')}, owner ${count('owner')}, mtime ${count('mtime')})`,
    );
  }
  if (r.leftoversRemoved.length > 0) {
    out.push(`removed ${plural(r.leftoversRemoved.length, 'temporary name')} left by an interrupted run`);
  }
  if (r.namedOutside.count > 0) {
    out.push(`left alone: ${plural(r.namedOutside.count, 'file')}: ${r.namedOutside.reason}`);
    if (list) for (const p of r.namedOutside.paths) out.push(`  ${p}`);
  }
  if (list && r.linked.length > 0) {
    out.push('', r.dryRun ? 'would link (target => survivor):' : 'linked (target => survivor):');
    for (const p of r.linked) {
      const diff = p.metadataDiffers.length > 0 ? ` [${p.metadataDiffers.join(', ')} differ]` : '';
      out.push(`  ${p.target} => ${p.survivor}${diff}`);
    }
  }
  if (r.skipped.length > 0) {
    out.push('', `skipped ${plural(r.skipped.length, 'pair')}:`);
    for (const s of r.skipped) out.push(`  ${s.target} => ${s.survivor}: ${s.message} (${s.reason})`);
  }
  return `${out.join('\n')}\n`;
}
