export { MirrorStorage } from "./MirrorStorage.js";
export { MirrorStoragePlugin, parseMirrorStorageOptions, type MirrorStorageOptions } from "./MirrorStoragePlugin.js";
