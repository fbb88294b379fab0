export { B2StoragePlugin, type B2StoragePluginOptions } from "./B2StoragePlugin.js";
export { B2Storage } from "./B2Storage.js";
export {
  B2_AUTHORIZE_URL,
  MAX_SINGLE_UPLOAD,
  parseB2StorageOptions,
  type B2StorageOptions,
  type OptionNamer,
  type ResolvedB2StorageOptions,
} from "./B2StorageOptions.js";
export { type B2StorageStats } from "./B2StorageStats.js";
export { B2Failure, type FailureKind } from "./B2Failure.js";
export { b2NameProblem, encodeB2Name, decodeB2Name, compareB2Names } from "./fileNames.js";
