import { LsofWriterCheck } from "@rtbackup/plugin-open-files";
import { ensureLsof } from "./helpers/ensureLsof.js";
import { writerCheckCases } from "./helpers/writerCheckCases.js";

const lsof = ensureLsof();
writerCheckCases("LsofWriterCheck", () => new LsofWriterCheck({ lsofBinaryPath: lsof }));
