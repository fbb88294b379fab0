import type { BackupPlugin, Parameters } from "@rtbackup/core";
import { LsofStabilityPlugin } from "./LsofStabilityPlugin.js";
import { ProcfsStabilityPlugin } from "./ProcfsStabilityPlugin.js";

/**
 * The stability plugin the parameters ask for, for the default preset: {@link LsofStabilityPlugin} with
 * `lsofBinaryPath` when `stabilityCheck` is `"lsof"` (LSOFBinaryPath set explicitly, or StabilityCheck=lsof),
 * otherwise the default {@link ProcfsStabilityPlugin}.
 * @throws ConfigError when `lsofBinaryPath` is not an absolute path.
 */
export function createStabilityPlugin(parameters: Pick<Parameters, "stabilityCheck" | "lsofBinaryPath">): BackupPlugin {
  if (parameters.stabilityCheck === "lsof") return new LsofStabilityPlugin({ lsofBinaryPath: parameters.lsofBinaryPath });
  return new ProcfsStabilityPlugin();
}
