// The parts of backblaze-b2 1.7 this package uses. The library ships no types; every call takes `axios` and
// `axiosOverride` objects that are deep-merged into the request (the override last).
declare module "backblaze-b2" {
  import type { Readable } from "node:stream";

  namespace B2 {
    interface Response<T = any> {
      status: number;
      headers: Record<string, string | undefined>;
      data: T;
    }
    interface CallArgs {
      axios?: object;
      axiosOverride?: object;
    }
  }

  class B2 {
    constructor(options: { applicationKeyId: string; applicationKey: string; axios?: object; retry?: object });
    authorizationToken: string | null;
    apiUrl: string | null;
    downloadUrl: string | null;
    accountId: string | undefined;
    authorize(args?: B2.CallArgs): Promise<B2.Response>;
    getBucket(args: { bucketId?: string; bucketName?: string } & B2.CallArgs): Promise<B2.Response>;
    getUploadUrl(args: { bucketId: string } & B2.CallArgs): Promise<B2.Response>;
    uploadFile(
      args: {
        uploadUrl: string;
        uploadAuthToken: string;
        fileName: string;
        data: Buffer | Readable;
        hash?: string;
        contentLength?: number;
        mime?: string;
        info?: Record<string, string>;
      } & B2.CallArgs,
    ): Promise<B2.Response>;
    startLargeFile(args: { bucketId: string; fileName: string; contentType?: string } & B2.CallArgs): Promise<B2.Response>;
    getUploadPartUrl(args: { fileId: string } & B2.CallArgs): Promise<B2.Response>;
    uploadPart(
      args: {
        uploadUrl: string;
        uploadAuthToken: string;
        partNumber: number;
        data: Buffer;
        hash?: string;
        contentLength?: number;
      } & B2.CallArgs,
    ): Promise<B2.Response>;
    finishLargeFile(args: { fileId: string; partSha1Array: string[] } & B2.CallArgs): Promise<B2.Response>;
    cancelLargeFile(args: { fileId: string } & B2.CallArgs): Promise<B2.Response>;
    listFileNames(
      args: { bucketId: string; startFileName?: string; maxFileCount?: number; prefix?: string; delimiter?: string } & B2.CallArgs,
    ): Promise<B2.Response>;
    listFileVersions(args: { bucketId: string; startFileName?: string; startFileId?: string; maxFileCount?: number } & B2.CallArgs): Promise<B2.Response>;
    hideFile(args: { bucketId: string; fileName: string } & B2.CallArgs): Promise<B2.Response>;
    deleteFileVersion(args: { fileId: string; fileName: string } & B2.CallArgs): Promise<B2.Response>;
    getFileInfo(args: { fileId: string } & B2.CallArgs): Promise<B2.Response>;
    downloadFileByName(args: { bucketName: string; fileName: string; responseType?: "stream" | "arraybuffer" } & B2.CallArgs): Promise<B2.Response>;
  }

  export = B2;
}

declare module "backblaze-b2/lib/request.js" {
  /** The library's generic request path (its module-global axios instance). */
  export function sendRequest(options: object): Promise<{ status: number; headers: Record<string, string | undefined>; data: any }>;
}
