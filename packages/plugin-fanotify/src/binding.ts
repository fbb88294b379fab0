import { createRequire } from "node:module";
import { NativeError } from "@rtbackup/core";

/**
 * One event as the addon delivers it (see native/EventParser.h). FID mode: `dir`/`name` name the entry (the
 * directory itself when `name` is "."), `dir2`/`name2` the new entry of a `FAN_RENAME`, `fid` the directory's own
 * handle key for directory events. fd mode: `path` of the object (bytes), or `error` when the kernel could not open
 * it (`FAN_REPORT_FD_ERROR`) or its path could not be read. A synthetic loss record (a read that failed because the
 * kernel could not open one event's file; that event is gone) has `mask` = `FAN_Q_OVERFLOW` and `error` set.
 */
export interface RawFanotifyEvent {
  readonly mask: number;
  readonly pid: number;
  readonly dir?: string;
  readonly name?: string;
  readonly dir2?: string;
  readonly name2?: string;
  readonly fid?: string;
  /** fd mode: the name bytes as the kernel gave them (decode with core's `decodeName`, never as UTF-8). */
  readonly path?: string | Uint8Array;
  readonly error?: number;
}

/**
 * Receives one batch per wakeup of the event loop: every event read, in kernel order. `error` is set only when the
 * group itself became unusable (read: EBADF, EFAULT, EINVAL, or a poll error), with any events read before the
 * failure; delivery has then stopped. A failed open of one event's file is a loss record, not an error.
 */
export type RawBatchCallback = (error: NativeError | null, events: RawFanotifyEvent[]) => void;

type NativeBatchCallback = (error: Error | null, events: RawFanotifyEvent[]) => void;

interface NativeGroup {
  mark(path: string, markFlags: number, mask: number): void;
  start(callback?: NativeBatchCallback): void;
  stop(): void;
  close(): void;
  ref(): void;
  unref(): void;
  readonly fd: number;
  readonly closed: boolean;
}

/** Kernel constants, as compiled into the addon. */
export interface FanotifyConstants {
  readonly FAN_CLASS_NOTIF: number;
  readonly FAN_UNLIMITED_QUEUE: number;
  readonly FAN_REPORT_FID: number;
  readonly FAN_REPORT_DIR_FID: number;
  readonly FAN_REPORT_NAME: number;
  readonly FAN_REPORT_TARGET_FID: number;
  readonly FAN_REPORT_FD_ERROR: number;
  readonly FAN_MARK_ADD: number;
  readonly FAN_MARK_REMOVE: number;
  readonly FAN_MARK_MOUNT: number;
  readonly FAN_MARK_FILESYSTEM: number;
  readonly FAN_MODIFY: number;
  readonly FAN_CLOSE_WRITE: number;
  readonly FAN_ATTRIB: number;
  readonly FAN_MOVED_FROM: number;
  readonly FAN_MOVED_TO: number;
  readonly FAN_CREATE: number;
  readonly FAN_DELETE: number;
  readonly FAN_DELETE_SELF: number;
  readonly FAN_MOVE_SELF: number;
  readonly FAN_RENAME: number;
  readonly FAN_Q_OVERFLOW: number;
  readonly FAN_ONDIR: number;
  readonly O_RDONLY: number;
  readonly O_LARGEFILE: number;
  readonly O_CLOEXEC: number;
  readonly O_NOATIME: number;
}

interface Addon {
  FanotifyGroup: new (initFlags: number, eventFFlags: number, bufferSize: number, maxReads: number) => NativeGroup;
  resolveHandle(mountFd: number, key: string): string;
  fsidOf(path: string): string;
  handleKeyOf(path: string): string;
  constants: FanotifyConstants;
}

const addon = createRequire(import.meta.url)("../build/Release/fanotify.node") as Addon;

/** Kernel constants (`FAN_*`, `O_*`) from the headers the addon was built against. */
export const constants: FanotifyConstants = Object.freeze({ ...addon.constants });

/** The errno of a native failure, or undefined when `err` did not come from a system call. */
export function errnoOf(err: unknown): number | undefined {
  if (err instanceof NativeError) return err.errno;
  const errno = (err as { errno?: unknown } | null)?.errno;
  return typeof errno === "number" ? errno : undefined;
}

/** Rethrows an addon error as core's {@link NativeError} (syscall + errno), keeping the errno name in the text. */
export function toNativeError(err: unknown): unknown {
  const e = err as { errno?: unknown; syscall?: unknown; code?: unknown; message?: unknown } | null;
  if (!e || typeof e.errno !== "number" || typeof e.syscall !== "string") return err;
  const detail = String(e.message ?? "").replace(`${e.syscall}: `, "");
  return new NativeError(e.syscall, e.errno, `${String(e.code)}: ${detail}`);
}

function native<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toNativeError(err);
  }
}

/**
 * A fanotify group: `fanotify_init` (with `FAN_NONBLOCK | FAN_CLOEXEC` added), marks, and delivery on the event loop.
 * Each wakeup drains up to `maxReads` reads of `bufferSize` bytes into one callback. Every failure is a
 * {@link NativeError} carrying the syscall and errno.
 */
export class FanotifyGroup {
  readonly #native: NativeGroup;

  constructor(initFlags: number, eventFFlags: number, bufferSize: number, maxReads: number) {
    this.#native = native(() => new addon.FanotifyGroup(initFlags, eventFFlags, bufferSize, maxReads));
  }

  /** `fanotify_mark(fd, markFlags, mask, AT_FDCWD, path)`. */
  mark(path: string, markFlags: number, mask: number): void {
    native(() => this.#native.mark(path, markFlags, mask));
  }

  /** Starts (or resumes) delivery; `callback` is needed the first time. A read error stops delivery. */
  start(callback?: RawBatchCallback): void {
    const wrapped: NativeBatchCallback | undefined = callback && ((error, events) => callback(error && (toNativeError(error) as NativeError), events));
    native(() => (wrapped ? this.#native.start(wrapped) : this.#native.start()));
  }

  /** Pauses delivery; the kernel keeps queueing (and reports an overflow once its queue is full). */
  stop(): void {
    this.#native.stop();
  }

  /** Stops delivery and closes the fd, which removes every mark. Idempotent. */
  close(): void {
    this.#native.close();
  }

  /** Lets an active group keep the process alive (the default). */
  ref(): void {
    this.#native.ref();
  }

  /** Lets the process exit while the group is active. */
  unref(): void {
    this.#native.unref();
  }

  /** The fanotify fd (-1 once closed). */
  get fd(): number {
    return this.#native.fd;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#native.closed;
  }
}

/** Current path of the object a handle key names, via `open_by_handle_at` on `mountFd`. ESTALE: it is gone. */
export function resolveHandle(mountFd: number, key: string): string {
  return native(() => addon.resolveHandle(mountFd, key));
}

/** Hex of `statfs(path).f_fsid`: the first 16 characters of every handle key on that filesystem. */
export function fsidOf(path: string): string {
  return native(() => addon.fsidOf(path));
}

/** The handle key of `path` (`name_to_handle_at`), as fanotify events report it. */
export function handleKeyOf(path: string): string {
  return native(() => addon.handleKeyOf(path));
}
