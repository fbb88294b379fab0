export { B2Emulator, type B2EmulatorOptions, type EmulatorFile, type EmulatorUnfinishedFile } from "./B2Emulator.js";
export { type EmulatorLogEntry } from "./emulatorLog.js";
export { ALL_CAPABILITIES, type B2Capability } from "./EmulatorAuth.js";
export { FAULT_KINDS, type FaultKind, type FaultOptions } from "./FaultInjector.js";
export { TRANSACTION_CLASSES, type B2ApiName, type TransactionClass } from "./transactionClasses.js";
export { type TransactionCounts } from "./emulatorStats.js";
