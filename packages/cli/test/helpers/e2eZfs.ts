// The zfs-fuse harness is plugin-zfs's own (install, daemon start/stop by PID, file-vdev pools with
// cachefile=none, cleanup even on failure); the end-to-end tests reuse it rather than keep a copy.
export { createTestPool, ensureZfsFuse, releaseZfs, type TestPool, type ZfsFuse } from "../../../plugin-zfs/test/helpers/zfsFuse.js";
