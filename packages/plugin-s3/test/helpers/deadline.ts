/**
 * Rejects if `work` has not settled within `ms`, with `describe()`'s text in the message, so a hang becomes a
 * failure that says where things stood instead of a stalled test run.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, describe: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done after ${ms} ms; ${describe()}`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
