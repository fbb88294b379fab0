// A JS config: built-in settings, plus custom plugins given two ways — an instance built here, and a
// { module, export, options } entry the loader imports and constructs. Check it with: rtb config check rtb.config.mjs
import { NoBackupMarkerPlugin } from "@rtbackup/example-nobackup-filter";

export default {
  parameters: {
    storage: "local",
    localStoragePath: "/mnt/backup/rtb-store",
    backupRoots: ["/home", "/srv"],
    stabilityCheck: "procfs",
    enableFileAccessNotify: true,
    monitorFileSystemTypes: ["ext4", "zfs"],
    snapshotSharingWindow: "PT2S",
    periodicRescanInterval: 3 * 60 * 60 * 1000,
    uploadThreadCount: 8,
    pathFilters: [{ type: "Component", value: "node_modules", action: "Exclude" }],
  },
  plugins: [
    // Leave out every directory holding a .nobackup file (or CACHEDIR.TAG, as here).
    new NoBackupMarkerPlugin({ marker: "CACHEDIR.TAG" }),
    {
      module: "@rtbackup/example-webhook-notify",
      export: "WebhookNotifyPlugin",
      options: { url: "https://hooks.example.invalid/rtb", failureThreshold: 5 },
    },
  ],
  // The default preset's plugins (storage, path filters, open-file checks, ZFS when present, fanotify) are added too.
  preset: true,
};
