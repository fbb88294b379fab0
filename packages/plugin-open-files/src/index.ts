export * from "./WriterCheck.js";
export * from "./CandidateIndex.js";
export * from "./ProcfsWriterCheck.js";
export * from "./LsofWriterCheck.js";
export * from "./parseLsofFields.js";
export * from "./ProcfsStabilityPlugin.js";
export * from "./LsofStabilityPlugin.js";
export * from "./createStabilityPlugin.js";
