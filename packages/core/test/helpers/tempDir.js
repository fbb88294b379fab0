// A temporary directory for one test, removed afterwards however the test ends.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
export async function withTempDir(prefix, fn) {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    try {
        await fn(dir);
    }
    finally {
        await rm(dir, { recursive: true, force: true });
    }
}
//# sourceMappingURL=tempDir.js.map