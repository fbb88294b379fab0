import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from "../repository/format.js";
import type { Parameters } from "./Parameters.js";
import {
  booleanKind,
  commandKind,
  durationKind,
  enumKind,
  integerKind,
  ipAddressKind,
  keyPrefixKind,
  pathKind,
  periodKind,
  patternKind,
  textKind,
  urlKind,
  type ValueKind,
} from "./valueKinds.js";

/** One setting: its XML element, its Parameters field, how it is read, whether it is a list of `<string>`s. */
export interface ParameterField {
  readonly key: keyof Parameters;
  readonly element: string;
  readonly kind: ValueKind<any>;
  readonly list: boolean;
  readonly secret: boolean;
  /** True for DQD.RealTimeBackup's own elements, false for ours. */
  readonly dqd: boolean;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function field(key: keyof Parameters, element: string, kind: ValueKind<any>, extra: { list?: boolean; secret?: boolean; dqd?: boolean } = {}): ParameterField {
  return { key, element, kind, list: extra.list ?? false, secret: extra.secret ?? false, dqd: extra.dqd ?? true };
}

const fsType = patternKind(/^[A-Za-z0-9._+-]+$/, "a filesystem type such as zfs");
const bucketName = patternKind(/^[^\s/]*$/, "a bucket name (no spaces or /)");
const storageClass = patternKind(/^[A-Za-z0-9_]*$/, "a storage class such as STANDARD_IA");
const ours = { dqd: false } as const;

/**
 * Every scalar and list setting, in the order DQD.RealTimeBackup writes its elements, then ours. `PathFilters`
 * has its own structure and is handled by the loaders directly. The B2 limits are B2's (a part is 5 MB to 5 GB,
 * a simple upload at most 5 GB); the S3 part size limits are S3's (5 MiB to 5 GiB).
 */
export const parameterFields: readonly ParameterField[] = [
  field("verbosity", "Verbosity", enumKind(["Quiet", "Normal", "Verbose"])),
  field("errorLogFilePath", "ErrorLogFilePath", pathKind(true)),
  field("ipcPath", "IPCPath", pathKind()),
  field("ipcUseUNIXSocket", "IPCUseUNIXSocket", booleanKind),
  field("ipcUseTCPSocket", "IPCUseTCPSocket", booleanKind),
  field("ipcBindTCPAddress", "IPCBindTCPAddress", ipAddressKind),
  field("ipcBindTCPPortNumber", "IPCBindTCPPortNumber", integerKind(0, 65535)),
  field("enableFileAccessNotify", "EnableFileAccessNotify", booleanKind),
  field("preferredMountPoints", "PreferredMountPoints", pathKind(), { list: true }),
  field("monitorFileSystemTypes", "MonitorFileSystemTypes", fsType, { list: true }),
  field("maximumFileSizeForStagingCopy", "MaximumFileSizeForStagingCopy", integerKind(0, undefined, "bytes")),
  field("lsofBinaryPath", "LSOFBinaryPath", commandKind),
  field("queueHighWaterMark", "QueueHighWaterMark", integerKind(1, 1_000_000_000)),
  field("queueLowWaterMark", "QueueLowWaterMark", integerKind(0, 1_000_000_000)),
  field("openFileHandlePollingInterval", "OpenFileHandlePollingInterval", durationKind(true)),
  field("maximumTimeToWaitForNoOpenFileHandles", "MaximumTimeToWaitForNoOpenFileHandles", durationKind(false)),
  field("longPollingInterval", "LongPollingInterval", durationKind(true)),
  field("maximumLongPollingTime", "MaximumLongPollingTime", durationKind(false)),
  field("zfsBinaryPath", "ZFSBinaryPath", commandKind),
  field("snapshotSharingWindow", "SnapshotSharingWindow", durationKind(false)),
  field("remoteFileStateCachePath", "RemoteFileStateCachePath", pathKind()),
  field("batchUploadConsolidationDelay", "BatchUploadConsolidationDelay", durationKind(false)),
  field("uploadThreadCount", "UploadThreadCount", integerKind(1, 256)),
  field("periodicRescanInterval", "PeriodicRescanInterval", durationKind(true)),
  field("remoteStorageKeyID", "RemoteStorageKeyID", textKind, { secret: true }),
  field("remoteStorageApplicationKey", "RemoteStorageApplicationKey", textKind, { secret: true }),
  field("remoteStorageBucketID", "RemoteStorageBucketID", textKind),
  field("b2LargeFileThreshold", "B2LargeFileThreshold", integerKind(1, 5_000_000_000, "bytes")),
  field("b2LargeFileChunkSize", "B2LargeFileChunkSize", integerKind(5_000_000, 5_000_000_000, "bytes")),

  field("backupRoots", "BackupRoots", pathKind(), { list: true, ...ours }),
  field("ipcSocketGroup", "IPCSocketGroup", patternKind(/^[A-Za-z0-9._-]*$/, "a group name (or empty)"), ours),
  field("storage", "Storage", enumKind(["local", "b2", "s3"]), ours),
  field("localStoragePath", "LocalStoragePath", pathKind(), ours),
  field("repositoryPrefix", "RepositoryPrefix", keyPrefixKind, ours),
  field("stagingDirectory", "StagingDirectory", pathKind(), ours),
  field("chunkSize", "ChunkSize", integerKind(MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, "bytes"), ours),
  field("repositoryFormat", "RepositoryFormat", integerKind(1, 2), ours),
  field("checkpointEvery", "CheckpointEvery", integerKind(1, 10_000_000, "records"), ours),
  field("encryptionKeyFile", "EncryptionKeyFile", pathKind(true), ours),
  field("encryptionPassphraseFile", "EncryptionPassphraseFile", pathKind(true), ours),
  field("retentionKeepWithin", "RetentionKeepWithin", periodKind(true), ours),
  field("retentionKeepLast", "RetentionKeepLast", integerKind(0, 1_000_000), ours),
  field("retentionKeepHourly", "RetentionKeepHourly", integerKind(0, 1_000_000), ours),
  field("retentionKeepDaily", "RetentionKeepDaily", integerKind(0, 1_000_000), ours),
  field("retentionKeepWeekly", "RetentionKeepWeekly", integerKind(0, 1_000_000), ours),
  field("retentionKeepMonthly", "RetentionKeepMonthly", integerKind(0, 1_000_000), ours),
  field("retentionKeepYearly", "RetentionKeepYearly", integerKind(0, 1_000_000), ours),
  field("retentionKeepDeleted", "RetentionKeepDeleted", periodKind(true), ours),
  field("pruneGracePeriod", "PruneGracePeriod", periodKind(false), ours),
  field("pruneCheckInterval", "PruneCheckInterval", durationKind(true), ours),
  field("indexCachePath", "IndexCachePath", pathKind(true), ours),
  field("stabilityCheck", "StabilityCheck", enumKind(["procfs", "lsof"]), ours),
  field("fanotifyQueue", "FanotifyQueue", enumKind(["default", "unlimited"]), ours),
  field("webEnabled", "WebEnabled", booleanKind, ours),
  field("metricsEnabled", "MetricsEnabled", booleanKind, ours),
  field("webBindAddress", "WebBindAddress", ipAddressKind, ours),
  field("webPort", "WebPort", integerKind(0, 65535), ours),
  field("webTokenFile", "WebTokenFile", pathKind(true), ours),
  field("s3Endpoint", "S3Endpoint", urlKind, ours),
  field("s3Region", "S3Region", patternKind(/^[A-Za-z0-9-]+$/, "a region name such as us-east-1"), ours),
  field("s3Bucket", "S3Bucket", bucketName, ours),
  field("s3AccessKeyId", "S3AccessKeyId", textKind, { secret: true, ...ours }),
  field("s3SecretAccessKey", "S3SecretAccessKey", textKind, { secret: true, ...ours }),
  field("s3ForcePathStyle", "S3ForcePathStyle", booleanKind, ours),
  field("s3StorageClass", "S3StorageClass", storageClass, ours),
  field("s3PartSize", "S3PartSize", integerKind(5 * MiB, 5 * GiB, "bytes"), ours),
  field("s3Concurrency", "S3Concurrency", integerKind(1, 256), ours),
];

/** The XML element name of a Parameters field (`uploadThreadCount` → `UploadThreadCount`). */
export function elementOf(key: keyof Parameters): string {
  if (key === "pathFilters") return "PathFilters";
  return parameterFields.find((f) => f.key === key)?.element ?? key;
}

/**
 * DQD.RealTimeBackup elements this program does not use. A file that has them still loads, with a warning, so that
 * any file DQD wrote works unchanged.
 */
export function isDqdOnlyElement(name: string): boolean {
  return (
    name === "FilePartSize" ||
    name === "ContentKeyLength" ||
    name === "ContentKeyAlphabet" ||
    /^WebAccess[A-Za-z]*$/.test(name) ||
    /^[A-Za-z]+DebugLogPath$/.test(name)
  );
}

/** Names of DQD-only elements, for "did you mean" suggestions. */
export const dqdOnlyElements: readonly string[] = [
  "FilePartSize",
  "ContentKeyLength",
  "ContentKeyAlphabet",
  "FileAccessNotifyDebugLogPath",
  "RemoteFileStateCacheDebugLogPath",
  "WebAccessServerURLs",
  "WebAccessCertificatePath",
  "WebAccessPasswordHash",
];
