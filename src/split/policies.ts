/** The split policies: light, so that the CLI can define `split --policy` without loading split. */
export const SPLIT_POLICIES = ['bytecode', 'optimized', 'tests', 'sources'] as const;
export type SplitPolicy = (typeof SPLIT_POLICIES)[number];

export function isSplitPolicy(s: string): s is SplitPolicy {
  return (SPLIT_POLICIES as readonly string[]).includes(s);
}
