/**
 * Home directories of the "real" users in an `/etc/passwd` text: those whose login shell does not end in
 * `nologin`, `false` or `sync` (DQD.RealTimeBackup's rule). Trailing slashes are removed (`/` becomes ""), and
 * each home appears once, in file order.
 */
export function realUserHomes(passwd: string): string[] {
  const homes: string[] = [];
  for (const line of passwd.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const fields = trimmed.split(":");
    if (fields.length < 7) continue;
    const home = fields[5] ?? "";
    const shell = fields[6] ?? "";
    if (home === "" || /(?:nologin|false|sync)$/.test(shell)) continue;
    const normalized = home.replace(/\/+$/, "");
    if (!homes.includes(normalized)) homes.push(normalized);
  }
  return homes;
}
