import type { FailureKind } from "./B2Failure.js";

/** Counters of one {@link B2Storage}. They never hold a credential, token or URL with a token. */
export interface B2StorageStats {
  /** Calls made, per B2 API (every attempt counts). */
  calls: Record<string, number>;
  /** Retries, per reason. */
  retries: Record<FailureKind, number>;
  /** `b2_authorize_account` calls after the first. */
  reauthorizations: number;
  /** Upload URLs fetched (`b2_get_upload_url`). */
  uploadUrlsFetched: number;
  /** Part upload URLs fetched (`b2_get_upload_part_url`). */
  partUrlsFetched: number;
  largeFilesStarted: number;
  largeFilesFinished: number;
  /** Large files this backend cancelled after a failed upload. */
  largeFilesCancelled: number;
  /** Unfinished large files of this owner (left by a crash) cancelled when the backend opened. */
  staleLargeFilesCancelled: number;
  /** Time spent waiting for `Retry-After`. */
  throttledMs: number;
  /** Time spent in exponential backoff. */
  backoffMs: number;
  /** Downloads resumed with a `Range` request after the connection broke mid-body. */
  downloadResumes: number;
  bytesUploaded: number;
  bytesDownloaded: number;
}

/** Fresh, zeroed counters. */
export function emptyStats(): B2StorageStats {
  return {
    calls: {},
    retries: { auth: 0, throttled: 0, server: 0, timeout: 0, network: 0, unauthorized: 0, cap: 0, notFound: 0, client: 0, aborted: 0 },
    reauthorizations: 0,
    uploadUrlsFetched: 0,
    partUrlsFetched: 0,
    largeFilesStarted: 0,
    largeFilesFinished: 0,
    largeFilesCancelled: 0,
    staleLargeFilesCancelled: 0,
    throttledMs: 0,
    backoffMs: 0,
    downloadResumes: 0,
    bytesUploaded: 0,
    bytesDownloaded: 0,
  };
}
