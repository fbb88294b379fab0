import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage } from "@rtbackup/core";
import { storageContractSuite } from "@rtbackup/core/testing";

storageContractSuite("LocalDirectoryStorage", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-local-"));
  return {
    backend: new LocalDirectoryStorage({ path: join(dir, "store") }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
