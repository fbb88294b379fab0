import type { Logger } from "@rtbackup/core";

/** A logger that keeps every line (`level message`) for assertions. */
export function collectingLogger(name = "test"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger: Logger = {
    name,
    error: (message, err) => lines.push(`error ${message}${err === undefined ? "" : `: ${String(err)}`}`),
    warn: (message) => lines.push(`warn ${message}`),
    info: (message) => lines.push(`info ${message}`),
    debug: (message) => lines.push(`debug ${message}`),
  };
  return { logger, lines };
}
