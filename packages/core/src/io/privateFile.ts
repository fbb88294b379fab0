import { chmod, rename, rm, writeFile } from "node:fs/promises";

/**
 * Writes a small file atomically with the given mode: a temporary file created with that mode (never wider for a
 * moment), then renamed over `path`. Used for the bridge's token and port files and the web page's token.
 */
export async function writePrivateFile(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  await writeFile(tmp, text, { mode, flag: "wx" });
  await chmod(tmp, mode);
  await rename(tmp, path);
}
