export type { BackupPlugin } from "./Engine.js";
