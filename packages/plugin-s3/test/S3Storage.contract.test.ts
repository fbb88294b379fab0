import { storageContractSuite } from "@rtbackup/core/testing";
import { S3Storage } from "@rtbackup/plugin-s3";
import { S3RVER_CREDENTIALS, startS3rver } from "./helpers/s3rver.js";

const MiB = 1024 * 1024;

// A fresh s3rver per test (it starts in ~0.2 s), a key prefix so the prefix mapping is exercised, the smallest
// legal part size and threshold so the 12 MiB object goes multipart in three parts, and 7 keys per listing page
// so the 33-key listing spans five pages.
storageContractSuite(
  "S3Storage on s3rver",
  async () => {
    const server = await startS3rver();
    const backend = new S3Storage({
      endpoint: server.endpoint,
      bucket: server.bucket,
      prefix: "host-a",
      credentials: S3RVER_CREDENTIALS,
      partSize: 5 * MiB,
      multipartThreshold: 5 * MiB,
      listPageSize: 7,
      retryBaseDelay: 10,
    });
    return {
      backend,
      async cleanup() {
        try {
          await backend.close();
        } finally {
          await server.stop();
        }
      },
    };
  },
  { largeSize: 12 * MiB, listCount: 30 },
);
