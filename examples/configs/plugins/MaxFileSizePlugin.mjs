// A complete plugin in one plain JavaScript file, loaded by a config file (see ../local-plugin.rtb.config.yaml and
// docs/plugins.md): files larger than maxBytes are not backed up.
import { lstat } from "node:fs/promises";
import { PluginOptions, integerKind } from "@rtbackup/core";

const PLUGIN_NAME = "MaxFileSizePlugin";

export class MaxFileSizePlugin {
  name = PLUGIN_NAME;

  constructor(options) {
    // A bad or unknown option throws a ConfigError naming MaxFileSizePlugin.options.<option>.
    const o = PluginOptions.read(PLUGIN_NAME, options, ["maxBytes"]);
    this.maxBytes = o.get("maxBytes", integerKind(0, Number.MAX_SAFE_INTEGER, "bytes"), 1024 ** 3);
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
