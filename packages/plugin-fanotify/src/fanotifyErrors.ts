import { ConfigError, NativeError } from "@rtbackup/core";
import { errnoOf } from "./binding.js";

const EPERM = 1;
const ENOENT = 2;
const EMFILE = 24;
const ENOTDIR = 20;
const EINVAL = 22;
const ENOSYS = 38;

/**
 * Rewrites a failed fanotify_init / fanotify_mark into an error that says what to fix, keeping errno and syscall
 * (a {@link NativeError}), or a {@link ConfigError} when a configured mount point does not exist.
 */
export function explainFanotifyError(err: unknown, context: { syscall: string; what: string; path?: string }): Error {
  const errno = errnoOf(err);
  const path = context.path ?? "";
  let hint: string | undefined;
  switch (errno) {
    case EPERM:
      hint = "permission denied: watching whole filesystems with fanotify needs root (CAP_SYS_ADMIN); " + "run the agent as root";
      break;
    case ENOSYS:
      hint = "this kernel has no fanotify (it needs CONFIG_FANOTIFY)";
      break;
    case EMFILE:
      hint = "too many fanotify groups or open files (the kernel allows 128 groups per user)";
      break;
    case EINVAL:
      hint = `the kernel does not support ${context.what}`;
      break;
    case ENOENT:
    case ENOTDIR:
      return new ConfigError("FanotifySourcePlugin.mountPoints", `mount point ${path} does not exist`, { cause: err });
    default:
      break;
  }
  if (errno === undefined) return err instanceof Error ? err : new Error(String(err));
  const detail = (err instanceof Error ? err.message : String(err)).replace(/^[a-z_]+: /, "").replace(/ \(errno \d+\)$/, "");
  return new NativeError(context.syscall, errno, hint ? `${hint} [${detail}]` : detail);
}
