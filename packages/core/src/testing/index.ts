export { storageContractSuite, readAll, type StorageContractOptions, type StorageContractTarget } from "./storageContract.js";
