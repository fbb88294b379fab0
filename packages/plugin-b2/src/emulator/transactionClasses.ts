/** B2's billing classes: A is free (uploads, deletes), B is per download, C is the most expensive (lists, auth). */
export type TransactionClass = "A" | "B" | "C";

/** The B2 native API calls the emulator implements, with their transaction class (backblaze.com pricing page). */
export const TRANSACTION_CLASSES = {
  b2_authorize_account: "C",
  b2_list_buckets: "C",
  b2_get_upload_url: "A",
  b2_upload_file: "A",
  b2_start_large_file: "A",
  b2_get_upload_part_url: "A",
  b2_upload_part: "A",
  b2_finish_large_file: "A",
  b2_cancel_large_file: "A",
  b2_list_unfinished_large_files: "C",
  b2_list_parts: "C",
  b2_list_file_names: "C",
  b2_list_file_versions: "C",
  b2_hide_file: "A",
  b2_delete_file_version: "A",
  b2_get_file_info: "B",
  b2_download_file_by_name: "B",
  b2_download_file_by_id: "B",
} as const satisfies Record<string, TransactionClass>;

/** The name of a B2 API call the emulator knows. */
export type B2ApiName = keyof typeof TRANSACTION_CLASSES;

/** True when `name` is an API call the emulator implements. */
export function isB2ApiName(name: string): name is B2ApiName {
  return Object.prototype.hasOwnProperty.call(TRANSACTION_CLASSES, name);
}

/** Results per billed list transaction: a list call returning more is billed as several (B2 pricing notes). */
export const LIST_RESULTS_PER_TRANSACTION = 1000;
