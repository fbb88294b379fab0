import { readFileSync, statSync } from "node:fs";

/** Longest user or group name kept (longer ones, like names with `:`, newlines or NUL, are not names). */
export const MAX_OWNER_NAME = 256;

/** Whether `name` can be a user or group name in an index record. */
export function isOwnerName(name: unknown): name is string {
  return typeof name === "string" && name.length > 0 && name.length <= MAX_OWNER_NAME && !/[\0\n:]/.test(name);
}

interface Table {
  readonly byId: Map<number, string>;
  readonly byName: Map<string, number>;
  readonly mtimeMs: number;
}

/** How long a table is trusted before its file's mtime is checked again. */
const RECHECK_MS = 10_000;

/**
 * User and group names of this machine, from `/etc/passwd` and `/etc/group` (the files themselves: names that only
 * NSS modules such as LDAP or sssd know are not seen). A backup records the names beside the ids; a restore maps a
 * recorded name to this machine's id for it, as tar and restic do. The files are read when first needed and again
 * when they change (looked at every 10 s at most). A line that does not parse is ignored; the first line for an id
 * or a name wins, as getpwuid(3) and getpwnam(3) find it.
 */
export class OwnerNames {
  readonly #files: { readonly passwd: string; readonly group: string };
  readonly #tables = new Map<"passwd" | "group", Table & { checkedAt: number }>();

  constructor(files: { passwd?: string; group?: string } = {}) {
    this.#files = { passwd: files.passwd ?? "/etc/passwd", group: files.group ?? "/etc/group" };
  }

  /** The user name of `uid`, if this machine has one. */
  userOf(uid: number): string | undefined {
    return this.#table("passwd").byId.get(uid);
  }

  groupOf(gid: number): string | undefined {
    return this.#table("group").byId.get(gid);
  }

  /** This machine's uid for a user name, if it has that user. */
  uidOf(name: string): number | undefined {
    return this.#table("passwd").byName.get(name);
  }

  gidOf(name: string): number | undefined {
    return this.#table("group").byName.get(name);
  }

  #table(kind: "passwd" | "group"): Table {
    const now = Date.now();
    const known = this.#tables.get(kind);
    if (known && now - known.checkedAt < RECHECK_MS) return known;
    const path = this.#files[kind];
    let mtimeMs = -1;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      // No such file: no names.
    }
    if (known && known.mtimeMs === mtimeMs) {
      known.checkedAt = now;
      return known;
    }
    const table = { ...parseTable(mtimeMs < 0 ? "" : readText(path)), mtimeMs, checkedAt: now };
    this.#tables.set(kind, table);
    return table;
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** `name:x:id:...` lines: names by id and ids by name. */
export function parseTable(text: string): { byId: Map<number, string>; byName: Map<string, number> } {
  const byId = new Map<number, string>();
  const byName = new Map<string, number>();
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields.length < 3) continue;
    const [name, , idText] = fields as [string, string, string];
    if (!isOwnerName(name) || name.startsWith("+") || name.startsWith("-") || !/^\d{1,10}$/.test(idText)) continue;
    const id = Number(idText);
    if (id > 4294967294) continue;
    if (!byId.has(id)) byId.set(id, name);
    if (!byName.has(name)) byName.set(name, id);
  }
  return { byId, byName };
}
