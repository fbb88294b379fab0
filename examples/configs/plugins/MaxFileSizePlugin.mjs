// A complete plugin in one plain JavaScript file, loaded by a config file (see ../local-plugin.rtb.config.yaml and
// docs/plugins.md): files larger than maxBytes are not backed up.
import { lstat } from "node:fs/promises";
import { ConfigError } from "@rtbackup/core";

const PLUGIN_NAME = "MaxFileSizePlugin";

export class MaxFileSizePlugin {
  name = PLUGIN_NAME;

  constructor(options = {}) {
    const { maxBytes = 1024 ** 3, ...unknown } = options ?? {};
    for (const key of Object.keys(unknown)) throw new ConfigError(`options.${key}`, "unknown option");
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new ConfigError("options.maxBytes", `expected a whole number of bytes ≥ 0, got ${JSON.stringify(maxBytes)}`);
    }
    this.maxBytes = maxBytes;
  }

  apply(engine) {
    const log = engine.getLogger(PLUGIN_NAME);
    engine.hooks.intake.tapPromise(PLUGIN_NAME, async ({ path, event }) => {
      if (event.type === "delete") return undefined; // a delete is always recorded
      const stats = await lstat(path).catch(() => undefined);
      if (stats?.isFile() && stats.size > this.maxBytes) {
        log.debug(`${path}: ${stats.size} bytes, over the limit`);
        return "exclude";
      }
      return undefined; // no opinion: later taps (path filters) decide
    });
  }
}
