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
export * from "./RescanCoalescer.js";
export * from "./GroupWatch.js";
export * from "./FdPeriodicRescan.js";
export * from "./EventSink.js";
export { openFdGroup, openFidGroup, markFilesystem, type GroupSettings } from "./openGroup.js";
