import { PluginError } from "./errors.js";

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
