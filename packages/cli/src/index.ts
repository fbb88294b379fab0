export { main } from "./main.js";
export { installOutputRedaction } from "./redactOutput.js";
