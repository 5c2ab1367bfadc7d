/** `pyfloppy analyze`: argument parsing and output; the work is the library's analyze(). */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Io } from './main.js';

export interface AnalyzeFlags {
  python?: string;
  platform?: string;
  strategies: boolean;
  baselineSubset?: string;
  baselineExclude?: string[];
  baselineNoTests?: boolean;
  format: 'text' | 'markdown' | 'json' | 'html';
  output?: string;
  json?: boolean;
  top: number;
  apparent?: boolean;
}

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return n;
}

const DESCRIPTION = [
  'Measure a Python installation: bytes by file type (.py, .pyc per optimization level, extension',
  'modules, metadata, data), the biggest top-level modules with a column per type, test code, what',
  'existing hardlinks save, and which bytecode caches are byte-identical across optimization levels.',
  '',
  'With no PATH, analyzes the stdlib and site-packages of the interpreter (--python, default: the',
  'python3 on PATH), as sysconfig reports them. Sizes are disk usage (st_blocks, what du counts) unless',
  '--apparent; every inode is counted once. Nothing is written.',
  '',
  'PATH may also be a container image: a `docker save` archive, an OCI image layout (a directory or its',
  'tar; --platform when it holds several), either tar as it is or gzip or zstd compressed (decompressed',
  'in memory, more than once), or a root file system directory. Its Python (lib/pythonX.Y',
  'under /, /usr, /usr/local, /opt/*; lib/python3/dist-packages) is found inside it; an image is read',
  'layer by layer without unpacking it, reported in apparent bytes (an archive has no blocks), with a',
  'layer table: the bytes each layer adds, hides, and the caches a later step wrote or CPython never reads.',
  '',
  'PATH may also be a package or bundle, recognized by its first bytes and read without unpacking it: a',
  'wheel (.whl; its .data/purelib and platlib counted as site-packages), a zip bundle (an AWS Lambda zip:',
  'modules at its top, under python/ or python/lib/pythonX.Y/site-packages), a tar (.tar, .tar.gz,',
  '.tar.xz, .tar.zst), an RPM (gzip, xz or',
  'zstd cpio payload) or a deb (data.tar.gz, .xz or .zst). A wheel or bundle is a sys.path entry itself;',
  "in a tar, RPM or deb Python is found as in an image. Bytes are apparent; the report adds the package's",
  'size as shipped and its compressed size after each strategy (an estimate, said so). For a wheel,',
  '--python measures the caches installing it adds, per level (its sources compiled, nothing written).',
].join('\n');
const AFTER_HELP = [
  '',
  'Examples:',
  "  pyfloppy analyze                                  # this machine's python3",
  '  pyfloppy analyze --python /usr/bin/python3.12 --top 10',
  '  pyfloppy analyze /usr/lib64/python3.12 --format markdown',
  '  pyfloppy analyze ./image-root/usr/lib/python3.12 --json > footprint.json',
  '  pyfloppy analyze --format html --output report.html',
  '  docker save myapp:latest -o myapp.tar && pyfloppy analyze myapp.tar',
  '  pyfloppy analyze ./oci-layout --platform linux/arm64',
  '  pyfloppy analyze dist/mypkg-1.0-py3-none-any.whl --python /usr/bin/python3.12',
  '  pyfloppy analyze python3-libs-3.12.1-1.fc40.x86_64.rpm --json > rpm.json',
  '  pyfloppy analyze /usr/lib64/python3.12 --baseline-subset python3-libs   # percentages as the seeds count',
  '',
  'Exit status: 0 analyzed (also when parts below PATH were unreadable: they are listed), 2 usage error,',
  'bad or unreadable PATH, or bad interpreter.',
].join('\n');

export function registerAnalyze(program: Command, io: Io): void {
  defineAnalyze(program).action(async (paths: string[], flags: AnalyzeFlags, cmd: Command) => {
    const { runAnalyze } = await import('./analyze-run.js');
    await runAnalyze(paths, flags, cmd, io);
  });
}

/** The command, its arguments, options and help; the action is runAnalyze() in ./analyze-run.js. */
function defineAnalyze(program: Command): Command {
  return program
    .command('analyze')
    .summary('the footprint of a Python tree: totals by file type, biggest modules, bytecode identity')
    .description(DESCRIPTION)
    .argument(
      '[path...]',
      "directories, a container image, or a package (wheel, zip, tar, rpm, deb) to analyze (default: the interpreter's library directories)",
    )
    .option('--python <exe>', 'the interpreter to describe (and to analyze when no PATH is given)')
    .option('--platform <os/arch>', 'the platform to read in an image index that holds several')
    .addOption(
      new Option('--format <format>', 'output format (html: one self-contained page)')
        .choices(['text', 'markdown', 'json', 'html'])
        .default('text'),
    )
    .option('--json', 'same as --format json')
    .option('-o, --output <file>', 'write the report to this file (atomically) instead of standard output')
    .option('--top <n>', 'rows in the module and distribution tables', positiveInt, 20)
    .option('--apparent', 'show apparent sizes (st_size) first instead of disk usage')
    .option('--no-strategies', 'skip the strategy estimates (they read the files to measure compression)')
    .addOption(
      new Option(
        '--baseline-subset <name>',
        'estimate over a named subset: python3-libs = the stdlib without tests, idlelib, tkinter, turtle, turtledemo, config-* and site-packages (as the seeds count)',
      ).choices(['python3-libs']),
    )
    .option(
      '--baseline-exclude <modules>',
      'estimate over the tree without these top-level modules (comma-separated)',
      (v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
    )
    .option(
      '--baseline-no-tests',
      'estimate over the tree without test code (test, tests, idle_test packages)',
    )
    .addHelpText('after', AFTER_HELP);
}
