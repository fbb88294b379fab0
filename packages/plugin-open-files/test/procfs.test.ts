import { ProcfsWriterCheck } from "@rtbackup/plugin-open-files";
import { writerCheckCases } from "./helpers/writerCheckCases.js";

writerCheckCases("ProcfsWriterCheck", () => new ProcfsWriterCheck());
