export * from "./FanotifySourcePlugin.js";
export * from "./FanotifySource.js";
export * from "./FanotifyStats.js";
export * from "./FidEventTranslator.js";
export * from "./FdEventTranslator.js";
export * from "./DirectoryCache.js";
export * from "./options.js";
export * from "./fanotifyErrors.js";
export {
  FanotifyGroup,
  constants,
  fsidOf,
  handleKeyOf,
  resolveHandle,
  type FanotifyConstants,
  type RawBatchCallback,
  type RawFanotifyEvent,
} from "./binding.js";
export * from "./MountWatcher.js";
