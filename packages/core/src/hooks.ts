import { PluginError } from "./errors.js";
import type { AsyncSeriesBailHook, SyncHook } from "tapable";

interface InterceptableHook {
  intercept(interceptor: { register?: (tap: any) => any }): void;
}

/**
 * Makes every tap registered on `hook` rethrow its errors as a {@link PluginError} naming the tap (the plugin) and
 * the hook. Works for sync, callback and promise taps.
 */
export function wrapTapErrors(hook: InterceptableHook, hookName: string): void {
  hook.intercept({
    register(tap: { type: "sync" | "async" | "promise"; name: string; fn: (...args: any[]) => any }) {
      const original = tap.fn;
      const wrap = (err: unknown) => (err instanceof PluginError ? err : new PluginError(tap.name, hookName, err));
      if (tap.type === "promise") {
        tap.fn = (...args: any[]) => {
          let result: unknown;
          try {
            result = original(...args);
          } catch (err) {
            return Promise.reject(wrap(err));
          }
          if (!result || typeof (result as Promise<unknown>).then !== "function") {
            return Promise.reject(wrap(new Error("tapPromise callback did not return a promise")));
          }
          return (result as Promise<unknown>).then(undefined, (err) => {
            throw wrap(err);
          });
        };
      } else if (tap.type === "async") {
        tap.fn = (...args: any[]) => {
          const callback = args.pop() as (err?: unknown, result?: unknown) => void;
          try {
            original(...args, (err: unknown, result: unknown) => (err ? callback(wrap(err)) : callback(null, result)));
          } catch (err) {
            callback(wrap(err));
          }
        };
      } else {
        tap.fn = (...args: any[]) => {
          try {
            return original(...args);
          } catch (err) {
            throw wrap(err);
          }
        };
      }
      return tap;
    },
  });
}

/**
 * Calls an observer hook (`event`, `action`, `uploadStarted`, `uploaded`, `failure`, `scan`) tap by tap: a tap that
 * throws is logged with the plugin it came from, the taps after it still run, and the work it observes (an upload, a
 * scan) never fails because of it.
 */
export function observe<T>(hook: SyncHook<[T]>, arg: NoInfer<T>, log: { error(message: string, err?: unknown): void }): void {
  if (!hook.isUsed()) return;
  for (const tap of hook.taps) {
    try {
      (tap.fn as (arg: T) => unknown)(arg);
    } catch (err) {
      log.error(`observer ${tap.name} failed (ignored)`, err);
    }
  }
}

/**
 * A bail hook as one synchronous function, when every tap on it is synchronous and no interceptor but `register`
 * (which acts only when a tap is added) is on it: it returns what `hook.promise(arg)` would resolve to, tap errors
 * wrapped alike. Undefined when a tap is async; then call the hook. Taps added later are not in the function. A
 * scan asks the intake hook once per path, and a promise per path was most of its time.
 */
export function syncBail<T, R>(hook: AsyncSeriesBailHook<[T], R>): ((arg: T) => R | undefined) | undefined {
  for (const interceptor of hook.interceptors) for (const key of Object.keys(interceptor)) if (key !== "register" && key !== "name") return undefined;
  if (hook.taps.some((tap) => tap.type !== "sync")) return undefined;
  const fns = hook.taps.map((tap) => tap.fn as (arg: T) => R | undefined);
  return (arg) => {
    for (const fn of fns) {
      const value = fn(arg);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}
