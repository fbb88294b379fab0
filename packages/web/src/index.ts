export { WebServer } from "./WebServer.js";
export type { WebServerOptions } from "./WebServer.js";
export * from "./browse/index.js";
export * from "./metrics/index.js";
