import { Readable } from "node:stream";
import { createHash } from "node:crypto";
import { S3Storage, type S3StorageOptions } from "@rtbackup/plugin-s3";
import { FaultProxy } from "./FaultProxy.js";
import { S3RVER_CREDENTIALS, startS3rver, type S3rver } from "./s3rver.js";

const MiB = 1024 * 1024;

/** s3rver, a fault proxy in front of it, a storage through the proxy and one straight to s3rver. */
export interface Stack {
  server: S3rver;
  proxy: FaultProxy;
  /** Talks to s3rver through the proxy. */
  storage: S3Storage;
  /** Talks to s3rver directly: reads back what was really stored. */
  direct: S3Storage;
}

/** Options of the storages in a stack: small parts, short backoff, no prefix unless given. */
export function stackOptions(endpoint: string, bucket: string, extra: Partial<S3StorageOptions> = {}): S3StorageOptions {
  return {
    endpoint,
    bucket,
    credentials: S3RVER_CREDENTIALS,
    partSize: 5 * MiB,
    multipartThreshold: 5 * MiB,
    retryBaseDelay: 5,
    ...extra,
  };
}

/** Runs `fn` with a fresh {@link Stack}; closes and stops everything in `finally`. */
export async function withStack<T>(extra: Partial<S3StorageOptions>, fn: (stack: Stack) => Promise<T>): Promise<T> {
  const server = await startS3rver();
  let proxy: FaultProxy | undefined;
  let storage: S3Storage | undefined;
  let direct: S3Storage | undefined;
  try {
    proxy = await FaultProxy.start(server.endpoint);
    storage = new S3Storage(stackOptions(proxy.endpoint, server.bucket, extra));
    direct = new S3Storage(stackOptions(server.endpoint, server.bucket, { prefix: extra.prefix ?? "" }));
    return await fn({ server, proxy, storage, direct });
  } finally {
    await storage?.close();
    await direct?.close();
    await proxy?.stop();
    await server.stop();
  }
}

/** SHA-256 hex of a buffer. */
export function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A body factory over `data` that yields 64 KiB pieces and counts how often it was opened. */
export function countingFactory(data: Buffer): { factory: () => Readable; opened: () => number } {
  let opened = 0;
  return {
    factory: () => {
      opened += 1;
      return Readable.from(
        (function* () {
          for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
        })(),
      );
    },
    opened: () => opened,
  };
}
