// The B2 emulator in its own process (forked by b2.bench.mjs), so the client under measurement does not share an
// event loop with the server. Answers IPC messages: { id, op: "counts", since } | { id, op: "lastSeq" } | { op: "stop" }.
import { B2Emulator } from "@rtbackup/plugin-b2/emulator";

const options = JSON.parse(process.argv[2] ?? "{}");
const emulator = new B2Emulator(options);
await emulator.start();
process.on("message", async (message) => {
  if (message.op === "counts") process.send({ id: message.id, result: emulator.counts(message.since) });
  else if (message.op === "lastSeq") process.send({ id: message.id, result: emulator.lastSeq });
  else if (message.op === "stop") {
    await emulator.stop();
    process.exit(0);
  }
});
process.send({
  ready: true,
  authorizeUrl: emulator.authorizeUrl,
  keyId: emulator.credentials.keyId,
  applicationKey: emulator.credentials.applicationKey,
  bucketId: emulator.bucketId,
});
