// The restore browser's HTTP API (/api/browse/…).
export { registerBrowseRoutes } from "./registerBrowseRoutes.js";
export type { BrowseSource } from "./BrowseContext.js";
export { fromWire, toWire } from "./wirePath.js";
