#!/usr/bin/env node
// File I/O runs on libuv's thread pool (4 threads by default), shared by every upload worker: give it room before
// anything uses it. An explicit UV_THREADPOOL_SIZE from the environment wins.
process.env.UV_THREADPOOL_SIZE ??= "16";
const { main } = await import("../dist/main.js");

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`rtb: ${err?.message ?? err}\n`);
    process.exitCode = 1;
  },
);
