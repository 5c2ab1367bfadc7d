/**
 * What a test needs from the machine (an interpreter, a tool, a privilege, a kind of file system), asked for in
 * one way by every test. Where it is missing the test is reported as skipped, naming what is missing; in CI
 * (`CI=true`) it fails instead, so a machine that lacks what the suite needs cannot pass by skipping.
 *
 *   if (!have(t, py, 'CPython 3.13')) return;   // py is an Interpreter from here on
 */
import type { TestContext } from 'node:test';

/** True in CI, where a missing requirement is a failure. */
export const CI = ['true', '1', 'yes'].includes((process.env.CI ?? '').toLowerCase());

/** Thrown (in CI) for a requirement the machine lacks: the test fails with this message. */
export class MissingRequirement extends Error {
  override name = 'MissingRequirement';
}

/**
 * Whether `value` is there (not undefined, null or false). When it is not: outside CI the test is marked
 * skipped with `missing: WHAT` and false is returned (the caller returns); in CI this throws, failing the test
 * with `missing in CI: WHAT`.
 */
export function have<T>(t: TestContext, value: T | undefined | null | false, what: string): value is T {
  if (value !== undefined && value !== null && value !== false) return true;
  if (CI) throw new MissingRequirement(`missing in CI: ${what} (CI=true turns this skip into a failure)`);
  t.skip(`missing: ${what}`);
  return false;
}

/**
 * Like have(), for what CI cannot promise either (the kind of file system the temporary directory is on):
 * a reported skip everywhere, CI included, naming what is missing.
 */
export function haveHere<T>(t: TestContext, value: T | undefined | null | false, what: string): value is T {
  if (value !== undefined && value !== null && value !== false) return true;
  t.skip(`missing: ${what}`);
  return false;
}
