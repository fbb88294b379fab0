export * from "./errors.js";
export * from "./logger.js";
export * from "./types.js";
export * from "./Plugin.js";
export * from "./Engine.js";
export * from "./config/Parameters.js";
export * from "./storage/StorageBackend.js";
export * from "./storage/LocalDirectoryStorage.js";
