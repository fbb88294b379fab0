"use strict";
// Runs s3rver for the tests and the benchmark: node --openssl-legacy-provider s3rver-runner.cjs <directory> <bucket>
// Prints one line, "S3RVER_LISTENING <port>", once it listens on 127.0.0.1 (port chosen by the kernel); stops on
// SIGTERM.
//
// One correction to s3rver 3.7.1, which it needs to behave like S3: its listObjects walks the data directory and
// returns keys in walk order (directory "list/x/" before the file "list/x-sibling"), not in UTF-8 byte order, while
// continuation tokens resume "after the last key" in string order; so a page boundary silently skips keys. The
// replacement below collects the keys under the prefix, sorts them by bytes and pages through them as S3 does.
const path = require("path");
const S3rver = require("s3rver");
const FilesystemStore = require("s3rver/lib/stores/filesystem");
const S3Object = require("s3rver/lib/models/object");
const { walk } = require("s3rver/lib/utils");

const OBJECT_SUFFIX = "._S3rver_object";
const byteOrder = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

FilesystemStore.prototype.listObjects = async function listObjects(bucket, options) {
  const { delimiter = "", startAfter = "", prefix = "", maxKeys = Infinity } = options;
  const bucketPath = this.getBucketPath(bucket);
  const prefixPath = path.posix.join(bucketPath, prefix);
  const keys = [];
  for (const file of walk(bucketPath, (dir) => dir.startsWith(prefixPath) || prefixPath.startsWith(dir + "/"))) {
    if (!file.endsWith(OBJECT_SUFFIX)) continue;
    const key = FilesystemStore.decodeKeyPath(file.slice(bucketPath.length + 1, -OBJECT_SUFFIX.length));
    if (key.startsWith(prefix) && (startAfter === "" || byteOrder(key, startAfter) > 0)) keys.push(key);
  }
  keys.sort(byteOrder);
  const commonPrefixes = new Set();
  const page = [];
  let isTruncated = false;
  for (const key of keys) {
    const rest = key.slice(prefix.length);
    const cut = delimiter ? rest.indexOf(delimiter) : -1;
    if (cut !== -1) {
      commonPrefixes.add(key.slice(0, prefix.length + cut + delimiter.length));
      continue;
    }
    if (page.length >= maxKeys) {
      isTruncated = true;
      break;
    }
    page.push(key);
  }
  const objects = [];
  for (const key of page) {
    try {
      objects.push(new S3Object(bucket, key, null, await this.getMetadata(bucket, key)));
    } catch (err) {
      if (err.code !== "ENOENT") throw err;
    }
  }
  return { objects, commonPrefixes: [...commonPrefixes].sort(byteOrder), isTruncated };
};

async function main() {
  const [directory, bucket] = process.argv.slice(2);
  if (!directory || !bucket) {
    process.stderr.write("usage: s3rver-runner.cjs <directory> <bucket>\n");
    process.exit(2);
  }
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  process.stdout.write(`S3RVER_LISTENING ${port}\n`);
  process.once("SIGTERM", () => {
    server.close(() => process.exit(0));
    // Keep-alive connections from clients would hold close() open.
    setTimeout(() => process.exit(0), 500).unref();
  });
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
