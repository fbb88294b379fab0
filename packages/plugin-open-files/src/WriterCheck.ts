/**
 * A stability check: answers "which of these files does some process hold open for writing?". The pipeline polls
 * it while a file waits to become stable (DESIGN.md §4, "Stability check"); benchmarks and tests call it directly.
 */
export interface WriterCheck {
  /**
   * The subset of `paths` (each returned exactly as given) that some process holds open for writing, matched by
   * device and inode so that any path to the same file counts. Paths that do not exist are not writers.
   */
  writers(paths: readonly string[]): Promise<Set<string>>;
}
