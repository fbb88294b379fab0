export { NoBackupMarkerPlugin, parseNoBackupMarkerOptions, type NoBackupMarkerOptions } from "./NoBackupMarkerPlugin.js";
