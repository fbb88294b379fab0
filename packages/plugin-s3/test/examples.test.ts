import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { loadConfig } from "@rtbackup/core";
import { s3OptionsFromParameters } from "@rtbackup/plugin-s3";

const examples = fileURLToPath(new URL("../../../examples/s3/", import.meta.url));

test("every examples/s3 config loads with core's loader and yields valid S3StoragePlugin options", async () => {
  const files = (await readdir(examples)).filter((f) => /\.(ya?ml|json|xml)$/.test(f)).sort();
  assert.ok(files.length >= 5, files.join(", "));
  const seen = new Map<string, { endpoint: string | undefined; pathStyle: boolean; defaultChain: boolean }>();
  for (const file of files) {
    const loaded = await loadConfig({ file: join(examples, file) });
    assert.is(loaded.parameters.storage, "s3", file);
    const options = s3OptionsFromParameters(loaded.parameters);
    seen.set(file, { endpoint: options.endpoint, pathStyle: options.forcePathStyle, defaultChain: options.credentials === undefined });
    assert.is(options.staleUploadPrefix, `${loaded.parameters.repositoryPrefix}/`, `${file}: the sweep stays under the repository prefix`);
  }
  assert.equal(seen.get("aws-s3.rtb.config.yaml"), { endpoint: undefined, pathStyle: false, defaultChain: true });
  assert.equal(seen.get("minio.rtb.config.json"), seen.get("minio.OperatingParameters.xml"));
  assert.equal(seen.get("b2-s3.rtb.config.yaml"), {
    endpoint: "https://s3.us-west-004.backblazeb2.com",
    pathStyle: true,
    defaultChain: false,
  });
  assert.equal(seen.get("b2-s3.rtb.config.yaml"), seen.get("b2-s3.OperatingParameters.xml"));
});

test.run();
