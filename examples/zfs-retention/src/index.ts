export { selectRetained, type DatedSnapshot, type RetentionPolicy } from "./selectRetained.js";
export { spawnExec, type Exec, type ExecResult } from "./spawnExec.js";
export { ZfsRetention, type RetentionResult, type ZfsRetentionSettings } from "./ZfsRetention.js";
export { ZfsRetentionPlugin, parseZfsRetentionOptions, type ZfsRetentionOptions } from "./ZfsRetentionPlugin.js";
