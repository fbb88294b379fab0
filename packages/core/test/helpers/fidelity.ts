// A tree with every kind of thing a Linux file system holds, and a listing of everything a restore should bring back,
// taken with the standard tools (stat through Node, getfattr, getfacl): the fidelity test compares the source, our
// restore and restic's restore of it.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, link, lstat, mkdir, open, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

/** Builds the tree under `root` (as root: capabilities, trusted.*, devices and foreign owners need it). */
export async function buildFidelityTree(root: string): Promise<void> {
  const p = (name: string) => join(root, name);
  await writeFile(p("plain.txt"), "hello\n");
  run("setfattr", ["-n", "user.comment", "-v", "a note", p("plain.txt")]);
  run("setfattr", ["-n", "user.bin", "-v", "0x00ff00", p("plain.txt")]);
  await writeFile(p("big.bin"), randomBytes(3 * 1024 * 1024));
  run("setfattr", ["-n", "user.big", "-v", `0x${"5a".repeat(3000)}`, p("big.bin")]);
  await writeFile(p("acl.txt"), "acl\n");
  run("setfacl", ["-m", "u:nobody:r,g:nogroup:rw", p("acl.txt")]);
  await mkdir(p("shared"));
  await writeFile(p("shared/inner.txt"), "inner\n");
  run("setfacl", ["-m", "u:nobody:rwx", p("shared")]);
  run("setfacl", ["-d", "-m", "u:nobody:rx", p("shared")]);
  run("setfattr", ["-n", "user.dir", "-v", "1", p("shared")]);
  await writeFile(p("ping"), await readFile("/bin/true"));
  await chmod(p("ping"), 0o755);
  run("setcap", ["cap_net_raw+ep", p("ping")]);
  await writeFile(p("trusted.txt"), "t\n");
  run("setfattr", ["-n", "trusted.t", "-v", "1", p("trusted.txt")]);
  await symlink("plain.txt", p("link"));
  run("setfattr", ["-h", "-n", "trusted.l", "-v", "2", p("link")]);
  await mkdir(p("hard"));
  await mkdir(p("other"));
  await writeFile(p("hard/a"), "linked\n");
  await link(p("hard/a"), p("hard/b"));
  await link(p("hard/a"), p("other/c"));
  const sparse = await open(p("sparse.img"), "w");
  await sparse.truncate(16 * 1024 * 1024);
  await sparse.write(Buffer.from("x"), 0, 1, 8 * 1024 * 1024);
  await sparse.close();
  run("mkfifo", ["-m", "0640", p("fifo")]);
  run("mknod", ["-m", "0600", p("null"), "c", "1", "3"]);
  run("mknod", ["-m", "0660", p("loop"), "b", "7", "99"]);
  await writeFile(p("odd"), "odd owner\n");
  await chown(p("odd"), 12345, 54321);
  await chmod(p("odd"), 0o604);
  await writeFile(p("setuid"), "s\n");
  await chown(p("setuid"), 65534, 65534);
  await chmod(p("setuid"), 0o4755);
}

/** The attributes of one path as getfattr prints them (hex values, the symlink's own), one line each. */
function xattrLines(path: string): string[] {
  const out = run("getfattr", ["-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", path]);
  // A long value is shown by its hash, so a difference stays readable.
  const short = (l: string) => (l.length > 100 ? `${l.slice(0, l.indexOf("=") + 1)}sha256:${createHash("sha256").update(l).digest("hex").slice(0, 16)}` : l);
  return out
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map(short);
}

/**
 * One line per entry below `root` (relative path, sorted): type, mode, owner, size, mtime in ms, device numbers,
 * which entry's inode it shares (hard links), bytes allocated (holes), SHA-256 of a file's content, a symlink's
 * target, every extended attribute (getfattr) and the ACL as getfacl shows it. `skip` leaves paths out.
 */
export async function fidelityListing(root: string, skip: readonly string[] = []): Promise<string[]> {
  // Written back first: until then ext4 counts blocks reserved for delayed allocation in st_blocks.
  run("sync", []);
  const lines: string[] = [];
  const inodes = new Map<number, string>();
  async function visit(dir: string, rel: string) {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (skip.includes(r)) continue;
      const st = await lstat(path);
      const type = st.isFile()
        ? "file"
        : st.isDirectory()
          ? "dir"
          : st.isSymbolicLink()
            ? "symlink"
            : st.isFIFO()
              ? "fifo"
              : st.isCharacterDevice()
                ? "chardev"
                : st.isBlockDevice()
                  ? "blockdev"
                  : "socket";
      const parts = [r, type, (st.mode & 0o7777).toString(8), `${st.uid}:${st.gid}`];
      if (type !== "dir") parts.push(`mtime=${Math.floor(st.mtimeMs)}`);
      if (type === "file") {
        parts.push(
          `size=${st.size}`,
          `blocks=${st.blocks}`,
          createHash("sha256")
            .update(await readFile(path))
            .digest("hex")
            .slice(0, 16),
        );
        if (st.nlink > 1) {
          if (!inodes.has(st.ino)) inodes.set(st.ino, r);
          parts.push(`inode-of=${inodes.get(st.ino)} nlink=${st.nlink}`);
        }
      }
      if (type === "chardev" || type === "blockdev") parts.push(`rdev=${run("stat", ["-c", "%Hr:%Lr", path]).trim()}`);
      if (type === "symlink") parts.push(`-> ${await readlink(path)}`);
      lines.push(parts.join(" "));
      for (const x of xattrLines(path)) lines.push(`  ${r} xattr ${x}`);
      if (type === "file" || type === "dir") {
        for (const a of run("getfacl", ["-n", "-p", "--omit-header", "--skip-base", path]).split("\n").filter(Boolean)) lines.push(`  ${r} acl ${a}`);
      }
      if (type === "dir") {
        await visit(path, r);
        lines.push(`${r} dir-mtime=${Math.floor((await lstat(path)).mtimeMs)}`);
      }
    }
  }
  await visit(root, "");
  return lines;
}
