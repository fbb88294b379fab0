import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { BRIDGE_FILES, ConfigError, loadConfig, type BridgeEndpoint } from "@rtbackup/core";

/** Options of `rtb console` that say where the daemon is. */
export interface EndpointOptions {
  config?: string;
  connect?: string;
  tokenFile?: string;
}

/** Splits `host:port` (`[v6]:port` for IPv6); undefined when the value is not of that form. */
export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:/]+):(\d+)$/.exec(value);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}

async function readToken(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      "--token-file",
      `cannot read the bridge token ${path}: ${code === "EACCES" ? "permission denied (it is readable by root only)" : (code ?? String(err))}`,
    );
  }
}

/**
 * Where the console connects: `--connect` (a socket path, or host:port with the token from `--token-file` or
 * `<IPCPath>/bridge-token`), else the configuration's IPCPath: its UNIX socket, or its TCP port file when only TCP is on.
 */
export async function resolveEndpoint(options: EndpointOptions): Promise<BridgeEndpoint> {
  const connect = options.connect === undefined ? undefined : String(options.connect);
  if (connect !== undefined && (connect.includes("/") || !parseHostPort(connect))) {
    if (connect === "") throw new ConfigError("--connect", "expected a socket path or host:port");
    return { path: resolve(connect) };
  }
  let ipcPath: string | undefined;
  let parameters: Awaited<ReturnType<typeof loadConfig>>["parameters"] | undefined;
  const loadParameters = async () => {
    parameters ??= (await loadConfig(options.config ? { file: resolve(String(options.config)) } : { cwd: process.cwd() })).parameters;
    ipcPath = parameters.ipcPath;
    return parameters;
  };
  const tokenFor = async () => readToken(options.tokenFile ? resolve(String(options.tokenFile)) : join((await loadParameters(), ipcPath!), BRIDGE_FILES.token));
  if (connect !== undefined) {
    const { host, port } = parseHostPort(connect)!;
    return { host, port, token: await tokenFor() };
  }
  const p = await loadParameters();
  if (p.ipcUseUNIXSocket) return { path: join(p.ipcPath, BRIDGE_FILES.socket) };
  if (!p.ipcUseTCPSocket)
    throw new ConfigError("IPCUseUNIXSocket", "the configuration turns the bridge off (IPCUseUNIXSocket and IPCUseTCPSocket are false); nothing to connect to");
  const portFile = join(p.ipcPath, BRIDGE_FILES.tcpPort);
  const portText = await readFile(portFile, "utf8").catch(() => {
    throw new ConfigError("--connect", `no ${portFile}: is the daemon running? (or give --connect host:port)`);
  });
  const port = Number(portText.trim());
  const bound = p.ipcBindTCPAddress;
  const host = bound === "0.0.0.0" ? "127.0.0.1" : bound === "::" ? "::1" : bound;
  if (isIP(host) === 0 || !Number.isInteger(port))
    throw new ConfigError("--connect", `cannot tell the bridge address from the configuration (${bound}:${portText.trim()})`);
  return { host, port, token: await tokenFor() };
}
