import type { FaultKind } from "./FaultInjector.js";
import type { B2ApiName, TransactionClass } from "./transactionClasses.js";

/** One call the emulator served. Never holds a token or a key. */
export interface EmulatorLogEntry {
  seq: number;
  api: B2ApiName;
  txClass: TransactionClass;
  method: string;
  /** HTTP status sent, or 0 when the connection was dropped before an answer. */
  status: number;
  /** B2 error code of an error answer. */
  code?: string;
  fault: FaultKind | null;
  /** Transactions billed (list calls returning over 1,000 results count several). */
  billed: number;
  startedAt: number;
  endedAt: number;
  fileName?: string;
  fileId?: string;
  partNumber?: number;
  bytes?: number;
  /** For upload_part: parts of the same large file being received at that moment, this one included. */
  concurrentParts?: number;
}

/** What a route handler records about its call; copied into the call's {@link EmulatorLogEntry} once it is answered. */
export type TransferNotes = Pick<EmulatorLogEntry, "fileName" | "fileId" | "partNumber" | "bytes" | "concurrentParts">;
