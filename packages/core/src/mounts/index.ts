export * from "./mountInfo.js";
export * from "./MountTable.js";
export * from "./selectMounts.js";
export * from "./mountPaths.js";
