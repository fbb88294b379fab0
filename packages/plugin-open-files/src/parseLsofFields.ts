/** One open file from lsof's field output (`-F pfaDin0`). */
export interface LsofOpenFile {
  /** Process id. */
  readonly pid: number;
  /** Descriptor: a number, or `cwd`, `txt`, `mem`, `rtd`, ... for other kinds of use. */
  readonly fd: string;
  /** Access mode: `r` read, `w` write, `u` read and write, ` ` or `-` unknown (empty when not reported). */
  readonly access: string;
  /** Device number (lsof prints it in hex), when reported. */
  readonly dev?: bigint;
  /** Inode number, when reported. */
  readonly inode?: bigint;
  /** Name as lsof prints it (unusual characters escaped), when reported. */
  readonly name?: string;
}

interface MutableOpenFile {
  pid: number;
  fd: string;
  access: string;
  dev?: bigint;
  inode?: bigint;
  name?: string;
}

/**
 * Parses lsof field output produced with `-F` and `-0`: every field is an identifier character followed by its
 * value and a NUL; a NL follows the last field of each process or file set. `p` starts a process set and `f` a file
 * set; file fields seen before any `f` start one too (in case `f` was not selected). Unknown fields are ignored.
 */
export function parseLsofFields(output: string): LsofOpenFile[] {
  const files: LsofOpenFile[] = [];
  let pid = -1;
  let current: MutableOpenFile | undefined;
  const start = (fd: string): MutableOpenFile => {
    current = { pid, fd, access: "" };
    files.push(current);
    return current;
  };
  for (let token of output.split("\0")) {
    if (token.startsWith("\n")) token = token.slice(1);
    if (token.length === 0) continue;
    const value = token.slice(1);
    switch (token[0]) {
      case "p":
        pid = Number(value);
        current = undefined;
        break;
      case "f":
        start(value);
        break;
      case "a":
        (current ?? start("")).access = value;
        break;
      case "D": {
        const dev = toBigInt(value);
        if (dev !== undefined) (current ?? start("")).dev = dev;
        break;
      }
      case "i": {
        const inode = toBigInt(value);
        if (inode !== undefined) (current ?? start("")).inode = inode;
        break;
      }
      case "n":
        (current ?? start("")).name = value;
        break;
      default:
        break;
    }
  }
  return files;
}

/** True when an lsof access mode means the file is open for writing (`w`, or `u`: read and write). */
export function isLsofWriteAccess(access: string): boolean {
  return access.includes("w") || access.includes("u");
}

function toBigInt(text: string): bigint | undefined {
  // lsof prints devices as 0x-prefixed hex and inodes in decimal; BigInt() accepts both spellings.
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(text)) return undefined;
  return BigInt(text);
}
