/** Number formatting shared by the text and markdown reports. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Bytes in binary units as the seed document writes them: '378.4 KiB', '1.4 MiB', '512 B'. */
export function formatBytes(n: number): string {
  // A strategy that only adds (opt-fallback alone) saves a negative amount.
  if (n < 0) return `-${formatBytes(-n)}`;
  if (n < 1024) return `${n} B`;
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${UNITS[u]}`;
}

/** A count with thousands separators: 110482 -> '110,482'. */
export function formatCount(n: number): string {
  // Not toLocaleString: loading ICU's locale data costs tens of milliseconds at the first call.
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A share as a percentage with one decimal; '-' when the whole is 0. */
export function formatPercent(part: number, whole: number): string {
  if (whole === 0) return '-';
  return `${((100 * part) / whole).toFixed(1)}%`;
}

/** A count and a noun that agrees with it: '1 file', '2 files', '1,024 operations'. */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${formatCount(n)} ${n === 1 ? singular : pluralForm}`;
}
