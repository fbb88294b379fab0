import type { Verbosity } from "../logger.js";

/** One `<PathFilter Type=... Value=... Action=...>` rule. First match wins; no match means included. */
export interface PathFilterRule {
  readonly type: "Prefix" | "Component" | "RegularExpression";
  readonly value: string;
  readonly action: "Include" | "Exclude";
}

/** Which storage backend the preset builds. */
export type StorageKind = "local" | "b2" | "s3";

/**
 * The typed form of DQD.RealTimeBackup's `OperatingParameters` plus our own settings. Durations are milliseconds.
 * Every field has a default ({@link defaultParameters}); the XML loader and the JS/JSON/YAML loader both produce
 * this shape. Field names follow the XML element names, in camelCase.
 */
export interface Parameters {
  // --- DQD.RealTimeBackup's elements, same defaults ---
  verbosity: Verbosity;
  errorLogFilePath: string;
  ipcPath: string;
  ipcUseUNIXSocket: boolean;
  ipcUseTCPSocket: boolean;
  ipcBindTCPAddress: string;
  /** 0 = dynamic. */
  ipcBindTCPPortNumber: number;
  /** Group allowed to use the bridge socket (mode 0660); empty = the daemon's user only (0600). Ours. */
  ipcSocketGroup: string;
  enableFileAccessNotify: boolean;
  pathFilters: PathFilterRule[];
  preferredMountPoints: string[];
  monitorFileSystemTypes: string[];
  maximumFileSizeForStagingCopy: number;
  lsofBinaryPath: string;
  queueHighWaterMark: number;
  queueLowWaterMark: number;
  openFileHandlePollingInterval: number;
  maximumTimeToWaitForNoOpenFileHandles: number;
  longPollingInterval: number;
  maximumLongPollingTime: number;
  zfsBinaryPath: string;
  snapshotSharingWindow: number;
  remoteFileStateCachePath: string;
  batchUploadConsolidationDelay: number;
  uploadThreadCount: number;
  periodicRescanInterval: number;
  remoteStorageKeyID: string;
  remoteStorageApplicationKey: string;
  remoteStorageBucketID: string;
  b2LargeFileThreshold: number;
  b2LargeFileChunkSize: number;

  // --- our own elements ---
  /** Directories to back up when they are not found from the mount table (no ZFS, or a plain tree). */
  backupRoots: string[];
  /** Which storage backend to use. Default `b2` when RemoteStorageKeyID is set, else `local`. */
  storage: StorageKind;
  /** Directory of the local-directory store (`storage = local`). */
  localStoragePath: string;
  /** Key prefix inside the bucket/store, so several hosts can share one. */
  repositoryPrefix: string;
  /** Where staging copies go (cleaned at start). */
  stagingDirectory: string;
  /** Size of content chunks for new format 1 repositories (files larger than this are split). */
  chunkSize: number;
  /** Format of a new repository: 2 (packs, compression, content-defined chunks, one lane per writer) or 1. */
  repositoryFormat: 1 | 2;
  /** A checkpoint (the whole tree in one object) is written once this many records were committed since the last. */
  checkpointEvery: number;
  /**
   * The key of an encrypted repository (docs/encryption.md): a writer key (`rtb key writer`: add, never read), a
   * master key (`rtb key export`), or an age identity file that opens a key object. Empty: none.
   */
  encryptionKeyFile: string;
  /** A file whose first line is the passphrase of an encrypted repository (or that creates one). Empty: none. */
  encryptionPassphraseFile: string;
  /**
   * Retention (docs/history.md), applied by `rtb forget`, never by the agent: keep every version visible within this
   * period (ms; Infinity: forever), the newest N of each path, the version visible at the end of each of the last N
   * hours, days, weeks, months and years. All 0 (the default): no rule, and `rtb forget` refuses to run. The
   * current version of every existing file is always kept.
   */
  retentionKeepWithin: number;
  retentionKeepLast: number;
  retentionKeepHourly: number;
  retentionKeepDaily: number;
  retentionKeepWeekly: number;
  retentionKeepMonthly: number;
  retentionKeepYearly: number;
  /** How long after its deletion a deleted file's versions are kept (ms; Infinity: forever, the default). */
  retentionKeepDeleted: number;
  /** Packs a prune found unneeded are deleted by a prune at least this long after (ms). */
  pruneGracePeriod: number;
  /** How often a running v2 agent looks for a new base written by a prune (docs/history.md "Prune"). */
  pruneCheckInterval: number;
  /** Where `rtb versions` and `rtb log` keep their local cache of the index; empty: `$XDG_CACHE_HOME/rtb` or `~/.cache/rtb`. */
  indexCachePath: string;
  /** `true` when `lsof` was asked for (LSOFBinaryPath set explicitly or StabilityCheck=lsof). */
  stabilityCheck: "procfs" | "lsof";
  /** fanotify queue: `default` (16,384 events, then overflow → rescan) or `unlimited`. */
  fanotifyQueue: "default" | "unlimited";

  // --- The web page and metrics (packages/web) ---
  /** Serve the status page and restore browser (behind the web token). Default false. */
  webEnabled: boolean;
  /** Serve `/metrics` (Prometheus text format), with or without the page. Default false. */
  metricsEnabled: boolean;
  /** The address the page and metrics listen on. Default 127.0.0.1: this machine only. */
  webBindAddress: string;
  /** Their TCP port (0: any free one, logged). Default 9478. */
  webPort: number;
  /** The file holding the page's token (made, mode 0600, when absent). Empty: `<IPCPath>/web-token`. */
  webTokenFile: string;

  // --- S3 (storage = s3) ---
  s3Endpoint: string;
  s3Region: string;
  s3Bucket: string;
  s3AccessKeyId: string;
  s3SecretAccessKey: string;
  s3ForcePathStyle: boolean | undefined;
  s3StorageClass: string;
  s3PartSize: number;
  s3Concurrency: number;
}

/** Names of the fields that hold secrets: masked whenever parameters are printed. */
export const secretParameters: readonly (keyof Parameters)[] = ["remoteStorageKeyID", "remoteStorageApplicationKey", "s3AccessKeyId", "s3SecretAccessKey"];

/** DQD's placeholder for unset credentials. */
export const MUST_BE_SET = "MUST BE SET IN CONFIGURATION FILE";

const S = 1000;
const MIN = 60 * S;

/** DQD.RealTimeBackup's 22 default path filters, in order. */
export function defaultPathFilters(): PathFilterRule[] {
  const prefixes = [
    "/var",
    "/run",
    "/tmp",
    "/bin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr/bin",
    "/usr/lib",
    "/usr/include",
    "/usr/src",
    "/usr/share",
    "/opt",
    "/var/lib/dpkg",
    "/var/lib/swcatalog",
  ];
  const components = [".cache", ".mozilla", "GUICache", "DawnCache", ".git"];
  return [
    ...prefixes.map((value) => ({ type: "Prefix" as const, value, action: "Exclude" as const })),
    ...components.map((value) => ({ type: "Component" as const, value, action: "Exclude" as const })),
    { type: "RegularExpression", value: "~/.config/Code/", action: "Exclude" },
  ];
}

/** All defaults: DQD's for its elements, ours for the rest. */
export function defaultParameters(): Parameters {
  return {
    verbosity: "Normal",
    errorLogFilePath: "/var/log/DQD.RealTimeBackup.error.log",
    ipcPath: "/run/DQD.RealTimeBackup",
    ipcUseUNIXSocket: true,
    ipcUseTCPSocket: false,
    ipcBindTCPAddress: "127.0.0.1",
    ipcBindTCPPortNumber: 0,
    ipcSocketGroup: "",
    enableFileAccessNotify: true,
    pathFilters: defaultPathFilters(),
    preferredMountPoints: [],
    monitorFileSystemTypes: ["zfs"],
    maximumFileSizeForStagingCopy: 524_288_000,
    lsofBinaryPath: "/usr/bin/lsof",
    queueHighWaterMark: 10_000,
    queueLowWaterMark: 5_000,
    openFileHandlePollingInterval: 4 * S,
    maximumTimeToWaitForNoOpenFileHandles: 30 * S,
    longPollingInterval: 30 * S,
    maximumLongPollingTime: 10 * MIN,
    zfsBinaryPath: "/usr/sbin/zfs",
    snapshotSharingWindow: 5 * S,
    remoteFileStateCachePath: "/var/DQD.RealTimeBackup/FileStateCache",
    batchUploadConsolidationDelay: 30 * S,
    uploadThreadCount: 4,
    periodicRescanInterval: 6 * 60 * MIN,
    remoteStorageKeyID: MUST_BE_SET,
    remoteStorageApplicationKey: MUST_BE_SET,
    remoteStorageBucketID: MUST_BE_SET,
    b2LargeFileThreshold: 10_485_760,
    b2LargeFileChunkSize: 5_242_880,

    backupRoots: [],
    storage: "local",
    localStoragePath: "/var/lib/rtb/store",
    repositoryPrefix: "",
    stagingDirectory: "/var/tmp/rtb-staging",
    chunkSize: 8 * 1024 * 1024,
    repositoryFormat: 2,
    checkpointEvery: 50_000,
    encryptionKeyFile: "",
    encryptionPassphraseFile: "",
    ...retentionDefaults(),
    stabilityCheck: "procfs",
    fanotifyQueue: "default",

    s3Endpoint: "",
    s3Region: "us-east-1",
    s3Bucket: "",
    s3AccessKeyId: "",
    s3SecretAccessKey: "",
    s3ForcePathStyle: undefined,
    s3StorageClass: "",
    s3PartSize: 16 * 1024 * 1024,
    s3Concurrency: 4,
  };
}

/** Retention and prune defaults: no rule (rtb forget refuses), deleted files kept forever, a grace period of a day. */
function retentionDefaults() {
  return {
    retentionKeepWithin: 0,
    retentionKeepLast: 0,
    retentionKeepHourly: 0,
    retentionKeepDaily: 0,
    retentionKeepWeekly: 0,
    retentionKeepMonthly: 0,
    retentionKeepYearly: 0,
    retentionKeepDeleted: Number.POSITIVE_INFINITY,
    pruneGracePeriod: 24 * 60 * MIN,
    pruneCheckInterval: 10 * MIN,
    indexCachePath: "",
    webEnabled: false,
    metricsEnabled: false,
    webBindAddress: "127.0.0.1",
    webPort: 9478,
    webTokenFile: "",
  };
}

/** A copy of `parameters` with every secret replaced by `***` (unset placeholders are kept visible). */
export function maskSecrets(parameters: Parameters): Parameters {
  const copy = { ...parameters };
  for (const key of secretParameters) {
    const value = copy[key];
    if (typeof value === "string" && value !== "" && value !== MUST_BE_SET) (copy as Record<string, unknown>)[key] = "***";
  }
  return copy;
}
