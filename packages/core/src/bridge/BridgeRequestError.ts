import type { BridgeErrorCode } from "./protocol.js";

/** A request the bridge refuses; its code and message go back to the client in the error reply. */
export class BridgeRequestError extends Error {
  readonly code: BridgeErrorCode;
  constructor(code: BridgeErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = "BridgeRequestError";
  }
}
