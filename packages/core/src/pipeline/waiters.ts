/** Calls every waiter in `list` (pass `waiters.splice(0)`, so a waiter that waits again lands in the emptied list). */
export function wakeAll(list: readonly (() => void)[]): void {
  for (const f of list) f();
}
