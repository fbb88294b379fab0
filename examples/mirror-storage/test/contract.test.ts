import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage } from "@rtbackup/core";
import { storageContractSuite } from "@rtbackup/core/testing";
import { MirrorStorage } from "@rtbackup/example-mirror-storage";

storageContractSuite(
  "MirrorStorage over two local directories",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "rtb-example-mirror-"));
    return {
      backend: new MirrorStorage([new LocalDirectoryStorage({ path: join(dir, "a") }), new LocalDirectoryStorage({ path: join(dir, "b") })]),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { largeSize: 3 * 1024 * 1024 },
);
