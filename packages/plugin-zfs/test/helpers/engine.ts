import { Engine, type LogSink, type Parameters } from "@rtbackup/core";
import type { ZfsSnapshotPlugin } from "@rtbackup/plugin-zfs";

/** An engine with only this plugin (not even core's default taps), whose log lines are collected instead of printed. */
export function engineWith(plugin: ZfsSnapshotPlugin, parameters: Partial<Parameters> = {}): { engine: Engine; logs: string[] } {
  const logs: string[] = [];
  const sink: LogSink = { write: (level, name, message) => void logs.push(`${level} [${name}] ${message}`) };
  const engine = new Engine({ parameters, log: { sink, verbosity: "Verbose" }, plugins: [plugin], coreDefaults: false });
  return { engine, logs };
}
