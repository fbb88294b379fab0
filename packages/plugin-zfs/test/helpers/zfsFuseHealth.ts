// Run by the test runner after a file failed: recovers a zfs-fuse that wedged under it (see recoverIfWedged) and
// prints what it found, so one wedged daemon does not hang the files after it.
import { recoverIfWedged } from "./zfsFuse.js";

const found = await recoverIfWedged();
if (found) process.stdout.write(`${found}\n`);
