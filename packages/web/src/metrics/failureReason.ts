import { ErrorCodes } from "@rtbackup/core";

// errno codes (ENOENT, EACCES) and Node's own (ERR_STREAM_PREMATURE_CLOSE): fixed sets, never built from data.
const SYSTEM_CODE = /^E[A-Z0-9_]{1,48}$/;

/**
 * A short, low-cardinality label for why something failed: the code of a BackupError (StorageError, PluginError, …)
 * from core's catalogue, else an errno-style code (`ENOENT`, `ECONNRESET`, `ERR_…`), else `other`. Never the
 * message, which names paths and keys.
 */
export function failureReason(error: unknown): string {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code !== "string") return "other";
  if (Object.hasOwn(ErrorCodes, code) || SYSTEM_CODE.test(code)) return code;
  return "other";
}
