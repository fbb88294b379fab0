export { S3Storage } from "./S3Storage.js";
export { S3StoragePlugin, type S3StoragePluginOptions } from "./S3StoragePlugin.js";
export {
  parseS3StorageOptions,
  s3OptionsFromParameters,
  type ResolvedS3StorageOptions,
  type S3CredentialProvider,
  type S3Credentials,
  type S3StaticCredentials,
  type S3StorageOptions,
} from "./S3StorageOptions.js";
export { isTransientError } from "./isTransientError.js";
export { S3CauseError } from "./toStorageError.js";
