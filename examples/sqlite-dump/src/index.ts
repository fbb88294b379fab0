export { SqliteDumpPlugin, parseSqliteDumpOptions, type SqliteDumpOptions } from "./SqliteDumpPlugin.js";
