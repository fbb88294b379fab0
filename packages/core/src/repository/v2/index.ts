// Format v2's building blocks (docs/format-v2.md), as `@rtbackup/core/v2`: the content-defined chunker, the blob
// codec, the pack codec, lanes and their readers. The agent writes v2 through them (pipeline/LaneCommitter.ts).
export { DEFAULT_CDC, FastCdc, cdcParamsProblem, gearTable } from "./fastcdc.js";
export type { CdcParams } from "./fastcdc.js";
export { ZSTD_LEVEL, compressBlob, decompressBlob } from "./codec.js";
export type { BlobCodec } from "./codec.js";
export {
  MAX_BLOB_SIZE,
  MAX_PACK_BYTES,
  MAX_TOC_BYTES,
  MAX_TOC_ENTRIES,
  PACK_MAGIC,
  PACK_TAIL_BYTES,
  PackBuilder,
  PackError,
  TOC_MAGIC,
  blobEntryOf,
  openBlob,
  parseToc,
  readPack,
  tocLengthOf,
} from "./pack.js";
export type { BlobEntry, Pack } from "./pack.js";
export { LANE_ID, checkLane, compareLaneBatches, laneBatchKey, laneGroupPrefix, laneHeaderProblem, laneKey, mergeLanes, parseLaneBatchKey } from "./lanes.js";
export type { LaneBatchHeader, LaneBatchName, LaneDamage } from "./lanes.js";
// The record semantics (put, move, delete) are v1's, unchanged.
export { applyRecord } from "../format.js";
export { PackStore, packKey } from "./PackStore.js";
export type { PackStoreOptions, StoredBlob } from "./PackStore.js";
export { LaneWriter, RepositoryV2, v2ConfigProblem } from "./RepositoryV2.js";
export type { V2Config } from "./RepositoryV2.js";
export { checkpointOf, decodeCheckpointV2, decodeLaneBatch, encodeCheckpointV2, encodeLaneBatch, parseCheckpointKey } from "./laneBatch.js";
export type { CheckpointHeader, CheckpointName, CheckpointSource } from "./laneBatch.js";
export { streamCheckpointV2 } from "./checkpointStream.js";
export type { CheckpointPart } from "./checkpointStream.js";
export { mergeTreeV2, readBlobV2, readFileV2, readTreeV2 } from "./readTreeV2.js";
export type { MergedTree } from "./readTreeV2.js";
export { MapTree, brokenEntries } from "./treeSink.js";
export type { BatchBodies, BatchBody, TreeSink } from "./treeSink.js";
export { TreeSpill } from "./treeSpill.js";
export { baseKey, decodeBase, encodeBase, parseBaseKey, viewUnder } from "./base.js";
export type { Base, BaseName, LaneView } from "./base.js";
export { readIndexView } from "./indexView.js";
export type { IndexView } from "./indexView.js";
export type { TreeV2 } from "./readTreeV2.js";
// Encryption (docs/encryption.md): how objects are named and sealed, the key objects, where a process finds its key.
export { PLAIN, ageCipher } from "./cipher.js";
export type { ObjectCipher } from "./cipher.js";
export { addKeyObject, listKeyObjects, removeKeyObject, unlockKey } from "./keyObjects.js";
export type { KeyObject, KeySource, KeyWrap } from "./keyObjects.js";
export { keySourceOf } from "./keySource.js";
export type { KeyPlaces } from "./keySource.js";
export { syncWriterLane } from "./syncWriterLane.js";
export type { V2Encryption } from "./RepositoryV2.js";
export { AgeError, AgeRanges, ageDecrypt, ageEncrypt, ageEncryptTo, generateAgeKeyPair, recipientOf } from "../../crypto/age.js";
export type { AgeKeyPair, AgeTo, AgeWith } from "../../crypto/age.js";
export { KEY_FORMAT, encodeKey, generateMasterKey, keyCheck, keyMatches, parseKey, writerKeyOf } from "../../crypto/repositoryKey.js";
export type { RepositoryKey } from "../../crypto/repositoryKey.js";
