import { storageContractSuite } from "@rtbackup/core/testing";
import { startEmulatorBackend, TEST_SIZES } from "./helpers/emulatorBackend.js";

// The large object crosses the large-file threshold (several parts); 30 objects over pages of 7 make the listing
// paginate.
storageContractSuite(
  "B2Storage on the B2 emulator",
  async () => {
    const { backend, cleanup } = await startEmulatorBackend();
    return { backend, cleanup };
  },
  { largeSize: 5 * TEST_SIZES.largeFileChunkSize + 1234, listCount: 30 },
);
