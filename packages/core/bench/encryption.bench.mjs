// What encryption costs (docs/encryption.md): initial backups (format 2, local store, each in a process of its own
// under /usr/bin/time) of the same trees into a plain repository and into an encrypted one, the agent holding a
// writer key (the recommended set-up: no passphrase, so no scrypt at start). Trees: 10,000 small files (1-16 KiB,
// random) and one 256 MiB file (random). CPU is user + system seconds of the whole process; best of 3 each, runs
// interleaved. restic (which always encrypts) backs the small tree up in the same run. Run after `npx tsc -b`.
// Last line: BENCH_RESULT {json}.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Engine, LocalDirectoryStorage, silentSink } from "@rtbackup/core";
import { RepositoryV2, encodeKey, writerKeyOf } from "@rtbackup/core/v2";
import { ensureTool, nodeChild, timed } from "../../../bench/lib.mjs";

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === "child") {
  // One initial backup of `src` into `store`; `key` is a writer key file or "-" for none.
  const [, , , src, store, state, key] = process.argv;
  const engine = new Engine({
    parameters: {
      storage: "local",
      localStoragePath: store,
      remoteFileStateCachePath: state,
      stagingDirectory: join(state, "staging"),
      backupRoots: [src],
      pathFilters: [],
      batchUploadConsolidationDelay: 1000,
      ...(key !== "-" ? { encryptionKeyFile: key } : {}),
    },
    log: { sink: silentSink },
  });
  await engine.start();
  await engine.initialBackup();
  await engine.stop();
  console.log(JSON.stringify({ ok: true }));
  process.exit(0);
}

const FILES = 10_000;
const LARGE = 256 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "rtb-encryption-bench-"));

function makeSmall(root) {
  for (let d = 0; d < 100; d++) mkdirSync(join(root, `d${d}`), { recursive: true });
  for (let i = 0; i < FILES; i++) writeFileSync(join(root, `d${i % 100}`, `f${i}`), randomBytes(1024 + ((i * 7919) % (15 * 1024))));
}

/** An encrypted repository in `store` and its writer key file. */
async function encryptedStore(store, n) {
  const repo = await RepositoryV2.create(new LocalDirectoryStorage({ path: store }), { encryption: { passphrase: "bench", logN: 10 } });
  const key = join(dir, `writer-${n}.key`);
  writeFileSync(key, encodeKey(writerKeyOf(repo.key.key)), { mode: 0o600 });
  return key;
}

/** Best of 3 (by CPU) of a plain and an encrypted backup of `src`, interleaved. */
async function compare(src, label) {
  const best = { plain: { cpuSeconds: Infinity }, encrypted: { cpuSeconds: Infinity } };
  for (let run = 0; run < 3; run++) {
    for (const mode of ["plain", "encrypted"]) {
      const work = join(dir, `${label}-${mode}-${run}`);
      const key = mode === "encrypted" ? await encryptedStore(join(work, "store"), `${label}-${run}`) : "-";
      const r = await nodeChild(self, ["child", src, join(work, "store"), join(work, "state"), key]);
      if (r.cpuSeconds < best[mode].cpuSeconds) best[mode] = r;
      rmSync(work, { recursive: true, force: true });
    }
  }
  const ratio = best.encrypted.cpuSeconds / best.plain.cpuSeconds;
  console.log(
    `${label}: CPU ${best.plain.cpuSeconds.toFixed(2)} s plain, ${best.encrypted.cpuSeconds.toFixed(2)} s encrypted (${ratio.toFixed(3)}×); wall ${best.plain.wallSeconds.toFixed(2)} s, ${best.encrypted.wallSeconds.toFixed(2)} s`,
  );
  return { plain: best.plain, encrypted: best.encrypted, ratio };
}

async function restic(src) {
  if (!ensureTool("restic", "restic", ["version"])) return undefined;
  let best;
  for (let run = 0; run < 3; run++) {
    const env = { ...process.env, RESTIC_PASSWORD: "bench", RESTIC_REPOSITORY: join(dir, `restic-${run}`), RESTIC_CACHE_DIR: join(dir, `restic-cache-${run}`) };
    await timed("restic", ["init", "--quiet"], { env, measure: false });
    const r = await timed("restic", ["backup", src, "--quiet"], { env });
    if (!best || r.seconds < best.seconds) best = r;
    rmSync(env.RESTIC_REPOSITORY, { recursive: true, force: true });
    rmSync(env.RESTIC_CACHE_DIR, { recursive: true, force: true });
  }
  console.log(`restic backup of the small tree: ${best.seconds.toFixed(2)} s wall, ${best.cpuSeconds?.toFixed(2)} s CPU`);
  return best;
}

try {
  const small = join(dir, "small");
  makeSmall(small);
  const large = join(dir, "large");
  mkdirSync(large);
  writeFileSync(join(large, "disk.img"), randomBytes(LARGE));
  execFileSync("sync");
  const s = await compare(small, `${FILES} small files`);
  const l = await compare(large, "one 256 MiB file");
  const rs = await restic(small);
  const vsRestic = rs ? s.encrypted.wallSeconds / rs.seconds : undefined;
  if (vsRestic !== undefined) console.log(`encrypted initial backup of ${FILES} small files: ${vsRestic.toFixed(2)}× restic's wall time`);
  const row = (c) => ({
    plainCpuSeconds: Number(c.plain.cpuSeconds.toFixed(2)),
    encryptedCpuSeconds: Number(c.encrypted.cpuSeconds.toFixed(2)),
    plainWallSeconds: Number(c.plain.wallSeconds.toFixed(2)),
    encryptedWallSeconds: Number(c.encrypted.wallSeconds.toFixed(2)),
    cpuRatio: Number(c.ratio.toFixed(3)),
  });
  const result = {
    small: row(s),
    large: row(l),
    resticWallSeconds: rs ? Number(rs.seconds.toFixed(2)) : null,
    resticCpuSeconds: rs?.cpuSeconds !== undefined ? Number(rs.cpuSeconds.toFixed(2)) : null,
    encryptedVsRestic: vsRestic !== undefined ? Number(vsRestic.toFixed(2)) : null,
    target: "encryption costs at most 10% more CPU than the same backup unencrypted; the encrypted 10,000-file backup at most 1.0x restic",
    met: s.ratio <= 1.1 && l.ratio <= 1.1 && (vsRestic === undefined || vsRestic <= 1.0),
  };
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
