import { compareB2Names } from "../fileNames.js";

/** One stored part of an unfinished large file. */
export interface StoredPart {
  partNumber: number;
  sha1: string;
  data: Buffer;
  uploadTimestamp: number;
}

/** One version of a file in the emulator: an upload, a hide marker, or an unfinished large file ("start"). */
export interface StoredVersion {
  fileId: string;
  fileName: string;
  bucketId: string;
  action: "upload" | "hide" | "start";
  contentType: string;
  /** 40 hex digits, `none` for large files, `null` for hide markers and unfinished large files. */
  contentSha1: string | null;
  fileInfo: Record<string, string>;
  uploadTimestamp: number;
  data: Buffer;
  /** Parts of an unfinished large file. */
  parts?: Map<number, StoredPart>;
}

/** A page of a listing. */
export interface ListPage<T> {
  items: T[];
  nextFileName: string | null;
  nextFileId?: string | null;
}

/** A "folder" entry of a listing with a delimiter. */
export interface FolderEntry {
  action: "folder";
  fileName: string;
}

/**
 * The content of one emulated bucket: every version of every name, newest first, with the names kept in B2's
 * listing order (UTF-8 byte order). Unfinished large files are versions with action `start`; they are invisible to
 * name listings and downloads, as on B2.
 */
export class EmulatorBucket {
  readonly bucketId: string;
  readonly bucketName: string;
  readonly #versions = new Map<string, StoredVersion[]>();
  readonly #byId = new Map<string, StoredVersion>();
  readonly #sorted: string[] = [];

  constructor(bucketId: string, bucketName: string) {
    this.bucketId = bucketId;
    this.bucketName = bucketName;
  }

  /** Adds a version as the newest of its name. */
  add(version: StoredVersion): void {
    let list = this.#versions.get(version.fileName);
    if (!list) {
      list = [];
      this.#versions.set(version.fileName, list);
      this.#sorted.splice(this.#lowerBound(version.fileName), 0, version.fileName);
    }
    list.unshift(version);
    this.#byId.set(version.fileId, version);
  }

  /** Removes one version; returns it, or `undefined` when there is none with that id. */
  remove(fileId: string): StoredVersion | undefined {
    const version = this.#byId.get(fileId);
    if (!version) return undefined;
    this.#byId.delete(fileId);
    const list = this.#versions.get(version.fileName)!;
    list.splice(list.indexOf(version), 1);
    if (list.length === 0) {
      this.#versions.delete(version.fileName);
      this.#sorted.splice(this.#lowerBound(version.fileName), 1);
    }
    return version;
  }

  /** A version by id. */
  byId(fileId: string): StoredVersion | undefined {
    return this.#byId.get(fileId);
  }

  /** The newest version that is not an unfinished large file (an upload or a hide marker). */
  latest(fileName: string): StoredVersion | undefined {
    return this.#versions.get(fileName)?.find((v) => v.action !== "start");
  }

  /** The version a download by name returns: the newest upload, unless a hide marker is newer. */
  visible(fileName: string): StoredVersion | undefined {
    const latest = this.latest(fileName);
    return latest?.action === "upload" ? latest : undefined;
  }

  /** Every unfinished large file whose name starts with `prefix`, oldest first. */
  unfinished(prefix: string): StoredVersion[] {
    const out: StoredVersion[] = [];
    for (const version of this.#byId.values()) {
      if (version.action === "start" && version.fileName.startsWith(prefix)) out.push(version);
    }
    return out;
  }

  /** Every visible file (what `b2_list_file_names` would return without a limit). */
  visibleFiles(): StoredVersion[] {
    return this.#sorted.map((n) => this.visible(n)).filter((v): v is StoredVersion => v !== undefined);
  }

  /** `b2_list_file_names`: visible files (and folders when a delimiter is given) from `start`, at most `max`. */
  listNames(prefix: string, start: string, max: number, delimiter: string | null): ListPage<StoredVersion | FolderEntry> {
    const items: (StoredVersion | FolderEntry)[] = [];
    const from = compareB2Names(start, prefix) > 0 ? start : prefix;
    let i = this.#lowerBound(from);
    while (i < this.#sorted.length) {
      const name = this.#sorted[i]!;
      if (!name.startsWith(prefix)) break;
      const cut = delimiter ? name.indexOf(delimiter, prefix.length) : -1;
      if (cut >= 0) {
        const folder = name.slice(0, cut + delimiter!.length);
        if (items.length === max) return { items, nextFileName: folder };
        items.push({ action: "folder", fileName: folder });
        while (i < this.#sorted.length && this.#sorted[i]!.startsWith(folder)) i++;
        continue;
      }
      const version = this.visible(name);
      if (version) {
        if (items.length === max) return { items, nextFileName: name };
        items.push(version);
      }
      i++;
    }
    return { items, nextFileName: null };
  }

  /** `b2_list_file_versions`: every version (newest first per name) from `start`/`startFileId`, at most `max`. */
  listVersions(prefix: string, start: string, startFileId: string | null, max: number): ListPage<StoredVersion> {
    const items: StoredVersion[] = [];
    const from = compareB2Names(start, prefix) > 0 ? start : prefix;
    for (let i = this.#lowerBound(from); i < this.#sorted.length; i++) {
      const name = this.#sorted[i]!;
      if (!name.startsWith(prefix)) break;
      let versions = this.#versions.get(name)!;
      if (startFileId && name === start) {
        const at = versions.findIndex((v) => v.fileId === startFileId);
        if (at >= 0) versions = versions.slice(at);
      }
      for (const version of versions) {
        if (items.length === max) return { items, nextFileName: version.fileName, nextFileId: version.fileId };
        items.push(version);
      }
    }
    return { items, nextFileName: null, nextFileId: null };
  }

  #lowerBound(name: string): number {
    const key = Buffer.from(name);
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(Buffer.from(this.#sorted[mid]!), key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
