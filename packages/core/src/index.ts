// The public API of @rtbackup/core: what plugins, the cli, tools and tests use, by name. Anything not listed here
// is internal to core and may change.

// The engine, its hooks, plugins and the running agent
export { BackupError, ConfigError, ErrorCodes, IndexDamagedError, NativeError, PluginError, StorageError, exitStatusOf, isErrno, messageOf } from "./errors.js";
export type { ErrorCode, ErrorKind } from "./errors.js";
export { createLogRoot, silentSink, stderrSink } from "./logger.js";
export type { LogRootOptions, LogSink, Logger, Verbosity } from "./logger.js";
export type {
  BackupAction,
  ChangeEvent,
  CommitInfo,
  EntryType,
  FailureInfo,
  FileEntry,
  IndexRecord,
  IntakeRequest,
  IntakeVerdict,
  ScanInfo,
  Snapshot,
  SnapshotRequest,
  StabilityRequest,
  StorageRequest,
  UploadInfo,
  WriterSet,
} from "./types.js";
export { Engine } from "./Engine.js";
export type { BackupPlugin, EngineMode, EngineOptions } from "./Engine.js";
export { StateCache } from "./state/StateCache.js";
export type { CachedEntry, InflightBatch, LocalIdentity } from "./state/StateCache.js";
export { acquireLock } from "./state/lock.js";
export type { Lock } from "./state/lock.js";
export type { AgentStats } from "./agentStats.js";
export { Runtime } from "./Runtime.js";
export type { GaveUp, RuntimeContext, RuntimeOptions } from "./Runtime.js";
export type { EngineHooks } from "./EngineHooks.js";
export { ManualClock, sleep, systemClock } from "./clock.js";
export type { Clock } from "./clock.js";
export { REDACTED, SecretRegistry, processSecrets, redactSecrets } from "./secrets/SecretRegistry.js";
export { SourceHealthBoard } from "./SourceHealth.js";
export type { SourceHealth, SourceHealthReport, SourceState } from "./SourceHealth.js";

// Configuration
export { MUST_BE_SET, defaultParameters, defaultPathFilters } from "./config/Parameters.js";
export type { Parameters, PathFilterRule, StorageKind } from "./config/Parameters.js";
export { ConfigValidationError } from "./config/ConfigValidationError.js";
export type { ConfigProblem } from "./config/ConfigValidationError.js";
export { formatDuration, parseDuration } from "./config/duration.js";
export { parseXmlParameters } from "./config/parseXmlParameters.js";
export type { XmlParametersResult } from "./config/parseXmlParameters.js";
export { parseConfigObject } from "./config/parseConfigObject.js";
export type { ConfigObjectResult, ConfigPath, ParseConfigObjectOptions } from "./config/parseConfigObject.js";
export { loadConfig } from "./config/loadConfig.js";
export type { LoadConfigOptions, LoadedConfig } from "./config/loadConfig.js";
export { resolvePluginSpecs } from "./config/resolvePluginSpecs.js";
export type { PluginEntry, PluginSpec, ResolvePluginSpecsOptions } from "./config/resolvePluginSpecs.js";
export { formatParametersText, formatParametersXml } from "./config/formatParameters.js";
export type { FormatParametersOptions } from "./config/formatParameters.js";
// The options helper every plugin validates its options with, and the value kinds it reads them by.
export { PluginOptions, checkedKind, durationRangeKind, functionKind, loggerKind, nonEmptyTextKind, numberKind } from "./config/pluginOptions.js";
export type { OptionKind, PluginOptionsSettings } from "./config/pluginOptions.js";
export {
  BadValue,
  booleanKind,
  commandKind,
  durationKind,
  enumKind,
  integerKind,
  keyPrefixKind,
  pathKind,
  patternKind,
  textKind,
  urlKind,
} from "./config/valueKinds.js";
export type { ValueKind, ValueSource } from "./config/valueKinds.js";

// Path filters and mounts
export { decodeMountInfoField, parseMountInfo } from "./mounts/mountInfo.js";
export type { MountInfo } from "./mounts/mountInfo.js";
export { MountTable, PROC_MOUNTINFO } from "./mounts/MountTable.js";
export { fileSystemTypeMatches, selectMounts } from "./mounts/selectMounts.js";
export type { MountSelectionOptions } from "./mounts/selectMounts.js";
export { isUnder, mountOf, trimTrailingSlash } from "./mounts/mountPaths.js";
export { agentOwnPaths, isAgentOwnPath } from "./defaults/ownPaths.js";
export { PathFilter } from "./filters/PathFilter.js";
export type { PathFilterOptions } from "./filters/PathFilter.js";
export { PathFilterPlugin } from "./filters/PathFilterPlugin.js";
export type { PathFilterPluginOptions } from "./filters/PathFilterPlugin.js";
export { RootedPathFilter } from "./filters/RootedPathFilter.js";
export type { RootFilterFinding } from "./filters/RootedPathFilter.js";
export { realUserHomes } from "./filters/realUserHomes.js";

// Storage and the repository format
export { keyProblem } from "./storage/StorageBackend.js";
export type { Body, ByteRange, ObjectInfo, StorageBackend } from "./storage/StorageBackend.js";
export { LocalDirectoryStorage } from "./storage/LocalDirectoryStorage.js";
export type { LocalDirectoryStorageOptions } from "./storage/LocalDirectoryStorage.js";
export { specialKindName, type SpecialKind } from "./pipeline/Uploader.js";
export { OwnerNames, isOwnerName, parseTable as parseOwnerTable } from "./owners/OwnerNames.js";
export { asRecord, batchKey, checkpointKey, chunkSizeProblem, dataKey, encodeIndexObject, sha256Hex } from "./repository/format.js";
export { Repository } from "./repository/Repository.js";

// Reading the tree, restoring, checking
export { contentOf, loadTree } from "./restore/loadTree.js";
export { arraySource } from "./restore/RestoreSource.js";
export type { RestoreSource } from "./restore/RestoreSource.js";
export { selectFromSpill } from "./restore/spillSelection.js";
export type { SpillSelection } from "./restore/spillSelection.js";
export { spillTreeV2 } from "./restore/spillTree.js";
export type { SpilledTree } from "./restore/spillTree.js";
export type { ChunkSource, LoadTreeOptions, TreeView } from "./restore/loadTree.js";
export { isV2, openRepository } from "./repository/openRepository.js";
export type { RepositoryV2 } from "./repository/v2/RepositoryV2.js";
export type { AnyRepository, OpenAnyOptions, RepositoryFormat } from "./repository/openRepository.js";
export { Restorer } from "./restore/Restorer.js";
// History (docs/history.md)
export { readHistory } from "./history/commits.js";
export type { Commit, History } from "./history/commits.js";
export { historyReader, openHistory } from "./history/historyReader.js";
export { cacheDirectoryOf, defaultCacheDirectory } from "./history/cacheDirectory.js";
export type { HistoryReader } from "./history/historyReader.js";
export { contentIdOf, isAtOrUnder, summarizeCommits, versionsOf } from "./history/versions.js";
export type { CommitSummary, Version } from "./history/versions.js";
export { changedParts, diffTrees } from "./history/diff.js";
export type { Change } from "./history/diff.js";
export { MOMENT_FORMS, parseMoment } from "./history/moment.js";
export { KEEP_EVERYTHING, bucketMoments, bucketStart, planRetention } from "./history/retention.js";
export type { KeepReason, RetentionPlan, RetentionPolicy, Verdict } from "./history/retention.js";
export { DEFAULT_GRACE_MS, prune } from "./history/prune.js";
export { PERIOD_FORMS, formatPeriod, parsePeriod } from "./history/period.js";
export type { PruneOptions, PruneReport } from "./history/prune.js";
export type { RetentionCounts } from "./history/prunePlan.js";
export type { PackPlan } from "./history/prunePacks.js";
export type { RestoreEvent, RestoreResult, RestorerOptions, Selection } from "./restore/Restorer.js";
export type { CheckReport, CheckSummary, CheckWarning, Damage, DamageKind, DependentVersion } from "./check/CheckReport.js";
export { parseReadDataSubset } from "./check/ReadDataSubset.js";
export type { ReadDataSubset } from "./check/ReadDataSubset.js";
export type { IndexScan } from "./check/scanIndex.js";
export type { Replay } from "./check/replayIndex.js";
export type { CheckContentOptions, ContentCheck } from "./check/checkContent.js";
export { checkRepository } from "./check/checkRepository.js";
export { checkRepositoryV2 } from "./check/checkRepositoryV2.js";
export type { CheckOptions, CheckOutcome } from "./check/checkRepository.js";
export { repairChunks } from "./check/repairChunks.js";
export type { RepairOptions, RepairResult, RepairedChunk, UnrepairedChunk } from "./check/repairChunks.js";

// Pipeline parts that plugins, tools and tests use (file reading, snapshots, the queue, scans)
export { delay } from "./pipeline/retry.js";
export { ActionQueue } from "./pipeline/ActionQueue.js";
export { racyWindowMs, sameEntry, settledIdentity, unchangedOnDisk } from "./pipeline/identity.js";
export type { ScanResult } from "./scan/ScanResult.js";
export { walk } from "./scan/walk.js";
export { Stability } from "./pipeline/Stability.js";

// The bridge (the daemon's local socket)
export { BRIDGE_FILES, encodeFrame } from "./bridge/protocol.js";
export type { BridgeNotification, BridgeScanStatus } from "./bridge/protocol.js";
export { FrameDecoder } from "./bridge/FrameDecoder.js";
export { BridgeRequestError } from "./bridge/BridgeRequestError.js";
export { executeBridgeRequest, parseBridgeRequest } from "./bridge/executeBridgeRequest.js";
export type { BridgeRequestContext } from "./bridge/executeBridgeRequest.js";
export { BridgeServer } from "./bridge/BridgeServer.js";
export { writePrivateFile } from "./io/privateFile.js";
export type { BridgeServerOptions } from "./bridge/BridgeServer.js";
export { BridgeClient } from "./bridge/BridgeClient.js";
export type { BridgeEndpoint } from "./bridge/BridgeClient.js";

// Names are bytes
export { decodeName, encodeName, fsPath, hasEscapedBytes } from "./fsNames.js";
export { collectStream, type CollectOptions } from "./io/collectStream.js";
export { findExecutable, type ExecutableLookup } from "./io/findExecutable.js";
