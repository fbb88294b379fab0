import type { StorageBackend } from "@rtbackup/core";
import type { StorageInstruments } from "./instruments.js";

/** The storage calls counted: every method of the contract but `close`. */
export type StorageCallKind = "put" | "putNew" | "get" | "head" | "list" | "delete" | "canDelete" | "sync";

/** A Backblaze B2 transaction class; `none` for a call that makes no B2 transaction. */
export type TransactionClass = "A" | "B" | "C" | "none";

/**
 * The B2 transaction class of each storage call, as B2Storage makes it (Backblaze bills class A free, B and C per
 * 10,000): uploads and deletes are class A (`b2_upload_file`, the large-file calls, `b2_hide_file`,
 * `b2_delete_file_version`), a download or a `head` (a HEAD of the download URL) class B, a listing
 * (`b2_list_file_names`) class C. `sync` is local only; `canDelete` reads the authorization already held.
 */
export const B2_TRANSACTION_CLASS: Readonly<Record<StorageCallKind, TransactionClass>> = Object.freeze({
  put: "A",
  putNew: "A",
  delete: "A",
  get: "B",
  head: "B",
  list: "C",
  canDelete: "none",
  sync: "none",
});

/**
 * Wraps a backend so that every call is counted by kind (and its B2 class), and every rejected one as an error. It
 * delegates every method of the contract; an optional one (`putNew`, `canDelete`, `sync`, `close`) exists on the
 * wrapper only when the backend has it, since callers test for them. A `get` counts as failed when it rejects, not
 * when the stream it returned fails later; a `list` when the listing throws while it is read.
 */
export function meterStorage(backend: StorageBackend, counters: StorageInstruments): StorageBackend {
  const labels = (kind: StorageCallKind) => ({ kind, class: B2_TRANSACTION_CLASS[kind] });
  const counted = async <T>(kind: StorageCallKind, run: () => Promise<T>): Promise<T> => {
    counters.calls.inc(labels(kind));
    try {
      return await run();
    } catch (err) {
      counters.errors.inc(labels(kind));
      throw err;
    }
  };
  const metered: StorageBackend = {
    description: backend.description,
    put: (...args) => counted("put", () => backend.put(...args)),
    get: (...args) => counted("get", () => backend.get(...args)),
    head: (...args) => counted("head", () => backend.head(...args)),
    list: (...args) => {
      counters.calls.inc(labels("list"));
      return countErrors(
        () => backend.list(...args),
        () => counters.errors.inc(labels("list")),
      );
    },
    delete: (...args) => counted("delete", () => backend.delete(...args)),
  };
  if (backend.putNew) metered.putNew = (...args) => counted("putNew", () => backend.putNew!(...args));
  if (backend.canDelete) metered.canDelete = () => counted("canDelete", () => backend.canDelete!());
  if (backend.sync) metered.sync = () => counted("sync", () => backend.sync!());
  if (backend.close) metered.close = () => backend.close!();
  for (const kind of Object.keys(B2_TRANSACTION_CLASS) as StorageCallKind[]) {
    if (kind in metered) {
      counters.calls.inc(labels(kind), 0);
      counters.errors.inc(labels(kind), 0);
    }
  }
  return metered;
}

/** A listing that reports a failure (when it is opened or while it is read) and rethrows it. */
async function* countErrors<T>(open: () => AsyncIterable<T>, onError: () => void): AsyncIterable<T> {
  try {
    yield* open();
  } catch (err) {
    onError();
    throw err;
  }
}
