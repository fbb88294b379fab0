import { createHash } from "node:crypto";
import { B2Storage, type B2StorageOptions } from "@rtbackup/plugin-b2";
import { B2Emulator, type B2EmulatorOptions } from "@rtbackup/plugin-b2/emulator";

/** An emulator and a backend pointed at it. `cleanup` closes both (call it in `finally`). */
export interface EmulatorBackend {
  emulator: B2Emulator;
  backend: B2Storage;
  /** Another backend on the same emulator (same default key unless credentials are given). */
  another(options?: Partial<B2StorageOptions>): B2Storage;
  cleanup(): Promise<void>;
}

/** Small sizes so large files, pagination and retries are exercised quickly. */
export const TEST_SIZES = {
  minimumPartSize: 50_000,
  largeFileThreshold: 120_000,
  largeFileChunkSize: 64 * 1024,
  listPageSize: 7,
} as const;

/** Starts an emulator (small part minimum) and a backend with fast backoff. */
export async function startEmulatorBackend(emulatorOptions: B2EmulatorOptions = {}, backendOptions: Partial<B2StorageOptions> = {}): Promise<EmulatorBackend> {
  const emulator = new B2Emulator({ absoluteMinimumPartSize: TEST_SIZES.minimumPartSize, ...emulatorOptions });
  await emulator.start();
  const backends: B2Storage[] = [];
  const another = (options: Partial<B2StorageOptions> = {}) => {
    const backend = new B2Storage({
      keyId: emulator.credentials.keyId,
      applicationKey: emulator.credentials.applicationKey,
      bucketId: emulator.bucketId,
      authorizeUrl: emulator.authorizeUrl,
      largeFileThreshold: TEST_SIZES.largeFileThreshold,
      largeFileChunkSize: TEST_SIZES.largeFileChunkSize,
      listPageSize: TEST_SIZES.listPageSize,
      backoffBaseMs: 10,
      backoffMaxMs: 200,
      requestTimeoutMs: 10_000,
      owner: "test-host",
      ...backendOptions,
      ...options,
    });
    backends.push(backend);
    return backend;
  };
  const backend = another();
  return {
    emulator,
    backend,
    another,
    async cleanup() {
      for (const b of backends) await b.close();
      await emulator.stop();
    },
  };
}

/** Polls `condition` every few milliseconds until it holds, or fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** SHA-256 of bytes, hex. */
export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
