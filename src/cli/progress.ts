/**
 * Diagnostics on stderr: a progress line, only on a TTY, only once an operation has run for about a second, redrawn at most
 * ten times a second. Hand-written on Node's tty API (clearLine/cursorTo) rather than a progress-bar library:
 * a scan has no known total, so a bar has nothing to fill, and this is the whole of what is needed.
 */
import { formatBytes, formatCount, plural } from '../report/format.js';

export interface Progress {
  update(entries: number, apparentBytes: number): void;
  /** A step after the scan that has no count: shown with the seconds it has run, redrawn by a timer. */
  phase(name: string): void;
  done(): void;
}

/** A line redrawn in place: `show` draws text (after delayMs, at most ten times a second), `done` erases it. */
export interface Line {
  show(text: string): void;
  done(): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr, delayMs = 1000): Line {
  if (!stream.isTTY) return { show() {}, done() {} };
  const start = Date.now();
  let last = 0;
  let drawn = false;
  return {
    show(text) {
      const now = Date.now();
      if (now - start < delayMs || now - last < 100) return;
      last = now;
      drawn = true;
      stream.cursorTo(0);
      // Why: a line wider than the terminal wraps, and cursorTo(0) then redraws only its last part.
      stream.write(text.slice(0, Math.max(20, (stream.columns || 80) - 1)));
      stream.clearLine(1);
    },
    done() {
      if (!drawn) return;
      stream.cursorTo(0);
      stream.clearLine(0);
    },
  };
}

export function scanProgress(stream: NodeJS.WriteStream = process.stderr, delayMs = 1000): Progress {
  const line = progressLine(stream, delayMs);
  let timer: NodeJS.Timeout | undefined;
  return {
    update(entries, bytes) {
      line.show(`scanning: ${formatCount(entries)} entries, ${formatBytes(bytes)}`);
    },
    phase(name) {
      clearInterval(timer);
      if (!stream.isTTY) return;
      const start = Date.now();
      // Why: these steps report nothing while they run (worker threads do the reading); a timer redraws.
      timer = setInterval(() => line.show(`${name}: ${((Date.now() - start) / 1000).toFixed(1)} s`), 100);
      timer.unref();
    },
    done() {
      clearInterval(timer);
      line.done();
    },
  };
}

/** compile's line: sources done of the total, and the file being placed is not named (they go by fast). */
export function countProgress(
  what: string,
  stream: NodeJS.WriteStream = process.stderr,
  delayMs = 1000,
): { update(done: number, total: number): void; done(): void } {
  const line = progressLine(stream, delayMs);
  return {
    update(done, total) {
      line.show(`${what}: ${formatCount(done)} of ${formatCount(total)}`);
    },
    done() {
      line.done();
    },
  };
}

/** The one-line warning for parts of a tree that could not be read (they are listed in the report). */
export function warnUnreadable(
  io: { stderr: NodeJS.WriteStream },
  problems: ReadonlyArray<{ path: string; message: string }>,
): void {
  if (problems.length === 0) return;
  io.stderr.write(
    `pyfloppy: warning: ${plural(problems.length, 'path')} could not be read and ${problems.length === 1 ? 'was' : 'were'} skipped (first: ${problems[0]!.path}: ${problems[0]!.message})\n`,
  );
}
