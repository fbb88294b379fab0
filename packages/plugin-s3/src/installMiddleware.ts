import type { SecretRegistry } from "@rtbackup/core";
import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";

interface WireRequest {
  headers: Record<string, string>;
  body?: unknown;
}

/**
 * Adds the two middlewares S3Storage relies on to `client`:
 *
 * - DeleteObjects carries `Content-MD5` instead of the SDK's CRC32 `x-amz-checksum-*` headers. The operation is
 *   modelled as requiring a checksum, so `WHEN_REQUIRED` still adds one, and MinIO, Ceph and other S3-compatible
 *   stores refuse a batch delete without Content-MD5; AWS accepts either.
 * - The access key id and session token actually used to sign (which may come from the default provider chain)
 *   are handed to the redactor, so they are masked in any error text the server sends back.
 */
export function installMiddleware(client: S3Client, redactor: SecretRegistry): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as WireRequest | undefined;
      if (context.commandName === "DeleteObjectsCommand" && request && typeof request.body === "string") {
        for (const name of Object.keys(request.headers)) {
          const lower = name.toLowerCase();
          if (lower.startsWith("x-amz-checksum-") || lower === "x-amz-sdk-checksum-algorithm" || lower === "content-md5") {
            delete request.headers[name];
          }
        }
        request.headers["content-md5"] = createHash("md5").update(request.body).digest("base64");
      }
      return next(args);
    },
    { step: "build", priority: "low", name: "rtbDeleteObjectsContentMd5" },
  );
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as WireRequest | undefined;
      if (request) {
        const auth = request.headers["authorization"] ?? request.headers["Authorization"];
        const match = auth ? /Credential=([^/,\s]+)\//.exec(auth) : null;
        redactor.addEphemeral(match?.[1], request.headers["x-amz-security-token"]);
      }
      return next(args);
    },
    { step: "deserialize", priority: "high", name: "rtbLearnSigningIdentity" },
  );
}
