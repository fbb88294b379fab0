import { appendFileSync } from "node:fs";
import { redactSecrets } from "./secrets/SecretRegistry.js";

/** Log levels, least to most verbose. `Quiet` keeps only warnings and errors (DQD's Verbosity). */
export type Verbosity = "Quiet" | "Normal" | "Verbose";

/** A named logger: `engine.getLogger(name)`. */
export interface Logger {
  readonly name: string;
  error(message: string, err?: unknown): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** Where log lines go. The CLI writes to stderr; tests collect them. */
export interface LogSink {
  write(level: "error" | "warn" | "info" | "debug", name: string, message: string): void;
}

/** Options of {@link createLogRoot}. */
export interface LogRootOptions {
  verbosity?: Verbosity;
  sink?: LogSink;
  /** Important errors are also appended here (DQD's ErrorLogFilePath). */
  errorLogFilePath?: string | undefined;
}

/** Writes `time level [name] message` lines to stderr. */
export const stderrSink: LogSink = {
  write(level, name, message) {
    process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} [${name}] ${message}\n`);
  },
};

/** A sink that drops everything. */
export const silentSink: LogSink = { write() {} };

/** Makes loggers that share one verbosity, sink and error log. Known secrets are redacted from every line. */
export function createLogRoot(options: LogRootOptions = {}): (name: string) => Logger {
  const verbosity = options.verbosity ?? "Normal";
  const target = options.sink ?? stderrSink;
  // Every line is redacted here, once, whichever sink it goes to: a server can echo a credential into any message.
  const sink: LogSink = { write: (level, name, message) => target.write(level, name, redactSecrets(message)) };
  const errorLog = options.errorLogFilePath;
  const loggers = new Map<string, Logger>();
  return (name) => {
    let logger = loggers.get(name);
    if (logger) return logger;
    logger = {
      name,
      error(message, err) {
        const text = err === undefined ? message : `${message}: ${err instanceof Error ? err.message : String(err)}`;
        sink.write("error", name, text);
        if (errorLog) {
          try {
            appendFileSync(errorLog, `${new Date().toISOString()} [${name}] ${redactSecrets(text)}\n`);
          } catch {
            // The error log is best effort; the line above already reached the main log.
          }
        }
      },
      warn(message) {
        sink.write("warn", name, message);
      },
      info(message) {
        if (verbosity !== "Quiet") sink.write("info", name, message);
      },
      debug(message) {
        if (verbosity === "Verbose") sink.write("debug", name, message);
      },
    };
    loggers.set(name, logger);
    return logger;
  };
}
