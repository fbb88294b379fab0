import { redactSecrets } from "@rtbackup/core";

const installed = new WeakSet<NodeJS.WriteStream>();

function redacting(stream: NodeJS.WriteStream): void {
  if (installed.has(stream)) return;
  installed.add(stream);
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  // Text is redacted; bytes (`rtb cat` writes a file's content) pass unchanged, they are the user's own data.
  stream.write = ((chunk: unknown, ...rest: unknown[]) => write(typeof chunk === "string" ? redactSecrets(chunk) : chunk, ...rest)) as typeof stream.write;
}

let crashHandler = false;

/**
 * Makes every text the command writes to stdout and stderr pass through the core secret registry, so a credential
 * that reached a message (a server echoing the Authorization header in an error body) is printed as `[REDACTED]`.
 * An uncaught exception, which Node.js would print on its own, is printed redacted and exits 1 as before.
 * Idempotent.
 */
export function installOutputRedaction(): void {
  redacting(process.stdout);
  redacting(process.stderr);
  if (crashHandler || process.hasUncaughtExceptionCaptureCallback()) return;
  crashHandler = true;
  process.setUncaughtExceptionCaptureCallback((err) => {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`rtb: uncaught error: ${text}\n`);
    process.exit(1);
  });
}
