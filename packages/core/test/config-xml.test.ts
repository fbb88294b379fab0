import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ConfigError,
  ConfigValidationError,
  defaultParameters,
  defaultPathFilters,
  formatDuration,
  formatParametersText,
  formatParametersXml,
  MUST_BE_SET,
  parseDuration,
  parseXmlParameters,
  type ConfigProblem,
} from "@rtbackup/core";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "config");
const fixture = (name: string) => readFileSync(join(fixtures, name), "utf8");

function doc(...elements: string[]): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<OperatingParameters>\n${elements.map((e) => `  ${e}\n`).join("")}</OperatingParameters>\n`;
}

function problemsOf(text: string): ConfigProblem[] {
  try {
    parseXmlParameters(text, "rtb.xml");
  } catch (err) {
    assert.ok(err instanceof ConfigValidationError, `expected ConfigValidationError, got ${String(err)}`);
    assert.ok(err instanceof ConfigError);
    assert.is(err.code, "CONFIG_INVALID");
    return [...err.problems];
  }
  assert.unreachable("expected the document to be refused");
  return [];
}

function onlyProblem(text: string): ConfigProblem {
  const problems = problemsOf(text);
  assert.is(problems.length, 1, problems.map((p) => p.text).join("\n"));
  return problems[0]!;
}

test("the full sample from DQD's README loads with its values", () => {
  const { parameters: p, warnings } = parseXmlParameters(fixture("dqd-full.xml"), "dqd-full.xml");
  assert.equal(warnings, []);
  assert.is(p.verbosity, "Normal");
  assert.is(p.errorLogFilePath, "/var/log/DQD.RealTimeBackup.error.log");
  assert.is(p.enableFileAccessNotify, true);
  assert.equal(p.preferredMountPoints, []);
  assert.equal(p.monitorFileSystemTypes, ["zfs"]);
  assert.is(p.maximumFileSizeForStagingCopy, 524_288_000);
  assert.is(p.queueHighWaterMark, 10_000);
  assert.is(p.queueLowWaterMark, 5_000);
  assert.is(p.openFileHandlePollingInterval, 4_000);
  assert.is(p.maximumTimeToWaitForNoOpenFileHandles, 30_000);
  assert.is(p.longPollingInterval, 30_000);
  assert.is(p.maximumLongPollingTime, 600_000);
  assert.is(p.snapshotSharingWindow, 5_000);
  assert.is(p.batchUploadConsolidationDelay, 30_000);
  assert.is(p.periodicRescanInterval, 6 * 3600_000);
  assert.is(p.uploadThreadCount, 4);
  assert.is(p.remoteStorageKeyID, "00.....................01");
  assert.is(p.remoteStorageApplicationKey, "K0...........................KU");
  assert.is(p.remoteStorageBucketID, "d5....................11");
  assert.is(p.b2LargeFileThreshold, 10_485_760);
  assert.is(p.b2LargeFileChunkSize, 5_242_880);
  // Credentials are set, so storage is b2; LSOFBinaryPath is given explicitly, so open files are checked by lsof.
  assert.is(p.storage, "b2");
  assert.is(p.stabilityCheck, "lsof");
  // The user's filter comes first, then the 22 defaults.
  assert.equal(p.pathFilters[0], { type: "Prefix", value: "/home/alice/Downloads", action: "Exclude" });
  assert.equal(p.pathFilters.slice(1), defaultPathFilters());
});

test("the minimal sample from DQD's README loads: credentials, b2, everything else default", () => {
  const { parameters: p } = parseXmlParameters(fixture("dqd-minimal.xml"), "dqd-minimal.xml");
  const expected = {
    ...defaultParameters(),
    remoteStorageKeyID: "00.....................01",
    remoteStorageApplicationKey: "K0...........................KU",
    remoteStorageBucketID: "d5....................11",
    storage: "b2",
  };
  assert.equal(p, expected);
});

test("a file as DQD's /WRITECONFIG writes it loads, DQD-only elements with a warning each", () => {
  const { parameters: p, warnings } = parseXmlParameters(fixture("dqd-writeconfig.xml"), "w.xml");
  assert.is(p.verbosity, "Verbose");
  assert.is(p.ipcUseTCPSocket, true);
  assert.is(p.ipcBindTCPPortNumber, 12345);
  assert.equal(p.preferredMountPoints, ["/home"]);
  assert.is(p.maximumTimeToWaitForNoOpenFileHandles, 90_000);
  assert.is(p.longPollingInterval, 500);
  assert.is(p.periodicRescanInterval, 26 * 3600_000);
  assert.is(p.uploadThreadCount, 8);
  // Placeholders are not credentials: local storage, no error about them.
  assert.is(p.remoteStorageKeyID, MUST_BE_SET);
  assert.is(p.storage, "local");
  // Its filters repeat three defaults: they are not evaluated twice.
  assert.is(p.pathFilters.length, 22);
  assert.equal(
    p.pathFilters.slice(0, 3).map((r) => r.value),
    ["/var", ".cache", "~/.config/Code/"],
  );
  const names = warnings.map((w) => /<(\w+)>/.exec(w)?.[1]);
  assert.equal(names, [
    "FileAccessNotifyDebugLogPath",
    "FilePartSize",
    "ContentKeyLength",
    "ContentKeyAlphabet",
    "WebAccessServerURLs",
    "WebAccessCertificatePath",
    "WebAccessPasswordHash",
  ]);
  assert.match(warnings[1]!, /^w\.xml:23: <FilePartSize> is a DQD\.RealTimeBackup setting this program does not use; ignored$/);
  assert.not.ok(
    warnings.some((w) => w.includes("MUST BE SET")),
    "warnings never show values",
  );
});

test("our own elements load", () => {
  const { parameters: p } = parseXmlParameters(
    doc(
      "<BackupRoots><string>/srv/data</string><string>/home/</string></BackupRoots>",
      "<Storage>s3</Storage>",
      "<LocalStoragePath>/backup/store</LocalStoragePath>",
      "<RepositoryPrefix>hosts/visor/</RepositoryPrefix>",
      "<StagingDirectory>/var/tmp/st</StagingDirectory>",
      "<ChunkSize>4194304</ChunkSize>",
      "<StabilityCheck>procfs</StabilityCheck>",
      "<LSOFBinaryPath>/usr/local/bin/lsof</LSOFBinaryPath>",
      "<FanotifyQueue>unlimited</FanotifyQueue>",
      "<S3Endpoint>http://127.0.0.1:4568</S3Endpoint>",
      "<S3Region>eu-central-1</S3Region>",
      "<S3Bucket>backups</S3Bucket>",
      "<S3AccessKeyId>AKIA</S3AccessKeyId>",
      "<S3SecretAccessKey>shh</S3SecretAccessKey>",
      "<S3ForcePathStyle>true</S3ForcePathStyle>",
      "<S3StorageClass>STANDARD_IA</S3StorageClass>",
      "<S3PartSize>8388608</S3PartSize>",
      "<S3Concurrency>2</S3Concurrency>",
    ),
    "ours.xml",
  );
  assert.equal(p.backupRoots, ["/srv/data", "/home"]);
  assert.is(p.storage, "s3");
  assert.is(p.localStoragePath, "/backup/store");
  assert.is(p.repositoryPrefix, "hosts/visor/");
  assert.is(p.stagingDirectory, "/var/tmp/st");
  assert.is(p.chunkSize, 4_194_304);
  assert.is(p.stabilityCheck, "procfs", "StabilityCheck wins over an explicit LSOFBinaryPath");
  assert.is(p.lsofBinaryPath, "/usr/local/bin/lsof");
  assert.is(p.fanotifyQueue, "unlimited");
  assert.is(p.s3Endpoint, "http://127.0.0.1:4568");
  assert.is(p.s3Region, "eu-central-1");
  assert.is(p.s3Bucket, "backups");
  assert.is(p.s3AccessKeyId, "AKIA");
  assert.is(p.s3SecretAccessKey, "shh");
  assert.is(p.s3ForcePathStyle, true);
  assert.is(p.s3StorageClass, "STANDARD_IA");
  assert.is(p.s3PartSize, 8_388_608);
  assert.is(p.s3Concurrency, 2);
});

test("PathFilters: user rules first; ReplaceDefaults drops the defaults", () => {
  const rules = '<PathFilter Type="Prefix" Value="/var/www" Action="Include" />';
  const first = parseXmlParameters(doc(`<PathFilters>${rules}</PathFilters>`), "a.xml").parameters.pathFilters;
  assert.equal(first, [{ type: "Prefix", value: "/var/www", action: "Include" }, ...defaultPathFilters()]);
  const only = parseXmlParameters(doc(`<PathFilters ReplaceDefaults="true">${rules}</PathFilters>`), "a.xml").parameters;
  assert.equal(only.pathFilters, [{ type: "Prefix", value: "/var/www", action: "Include" }]);
  const none = parseXmlParameters(doc('<PathFilters ReplaceDefaults="1" />'), "a.xml").parameters;
  assert.equal(none.pathFilters, []);
});

test("the problem from the brief, word for word", () => {
  const text = doc("<Verbosity>Normal</Verbosity>", "", "", "", "<UploadThreadCount>-2</UploadThreadCount>");
  const problem = onlyProblem(text);
  assert.is(problem.line, 7);
  try {
    parseXmlParameters(text, "rtb.xml");
    assert.unreachable("should throw");
  } catch (err) {
    assert.is((err as Error).message, 'rtb.xml:7: <UploadThreadCount>: expected a whole number from 1 to 256, got "-2"');
    assert.is((err as ConfigError).where, "rtb.xml:7");
  }
});

test("entities, CDATA, comments and xsi:nil", () => {
  const { parameters: p } = parseXmlParameters(
    doc(
      "<!-- a comment with <UploadThreadCount>9</UploadThreadCount> inside -->",
      '<PathFilters><PathFilter Type="RegularExpression" Value="\\.(o|a)$|&lt;tmp&gt;" Action="Exclude" /></PathFilters>',
      "<RemoteStorageBucketID><![CDATA[b<1>]]></RemoteStorageBucketID>",
      '<ErrorLogFilePath xsi:nil="true" />',
      "<UploadThreadCount>\n    3\n  </UploadThreadCount>",
    ),
    "e.xml",
  );
  assert.is(p.pathFilters[0]!.value, "\\.(o|a)$|<tmp>");
  assert.is(p.remoteStorageBucketID, "b<1>");
  assert.is(p.errorLogFilePath, defaultParameters().errorLogFilePath);
  assert.is(p.uploadThreadCount, 3);
});

test("a byte-order mark and CRLF line ends (as .NET writes them) are fine, and lines still count", () => {
  const text =
    '\uFEFF<?xml version="1.0" encoding="utf-8"?>\r\n<OperatingParameters>\r\n  <UploadThreadCount>5</UploadThreadCount>\r\n</OperatingParameters>\r\n';
  assert.is(parseXmlParameters(text, "bom.xml").parameters.uploadThreadCount, 5);
  assert.is(onlyProblem(text.replace(">5<", ">x<")).line, 3);
});

test("durations: xs:duration to milliseconds and back", () => {
  const table: [string, number][] = [
    ["PT30S", 30_000],
    ["PT0.5S", 500],
    ["PT4S", 4_000],
    ["PT10M", 600_000],
    ["PT6H", 21_600_000],
    ["P1DT2H", 93_600_000],
    ["PT1M30S", 90_000],
    ["P1D", 86_400_000],
    ["PT0S", 0],
    ["PT0.001S", 1],
    ["P1M", 30 * 86_400_000],
    ["P1Y", 365 * 86_400_000],
    ["P1DT1H1M1.25S", 90_061_250],
  ];
  for (const [text, ms] of table) {
    assert.is(parseDuration(text), ms, text);
    assert.is(parseDuration(formatDuration(ms)), ms, `round trip of ${text}`);
  }
  assert.is(parseDuration("  PT5S  "), 5_000);
  assert.is(formatDuration(93_600_000), "P1DT2H");
  assert.is(formatDuration(500), "PT0.5S");
  assert.is(formatDuration(0), "PT0S");
  assert.is(formatDuration(600_000), "PT10M");
  for (const bad of ["PT5X", "P", "PT", "P1DT", "5s", "PT.5S", "P1.5D", "", "T5S", "P5S"]) {
    assert.throws(() => parseDuration(bad), SyntaxError, bad);
  }
  assert.throws(() => parseDuration("-PT5S"), RangeError);
  assert.throws(() => formatDuration(-1), RangeError);
});

test("formatParametersXml writes a complete document that loads back to the same parameters", () => {
  const { parameters } = parseXmlParameters(fixture("dqd-writeconfig.xml"), "w.xml");
  const tweaked = {
    ...parameters,
    pathFilters: [{ type: "Component" as const, value: "node_modules", action: "Exclude" as const }, ...parameters.pathFilters],
    backupRoots: ["/srv/a & b"],
    s3ForcePathStyle: false,
    longPollingInterval: 1_500,
  };
  const again = parseXmlParameters(formatParametersXml(tweaked, { revealSecrets: true }), "again.xml");
  assert.equal(again.parameters, tweaked);
  assert.equal(again.warnings, []);
  const defaults = defaultParameters();
  assert.equal(parseXmlParameters(formatParametersXml(defaults), "d.xml").parameters, defaults);
  const replaced = { ...defaults, pathFilters: [{ type: "Prefix" as const, value: "/x", action: "Include" as const }] };
  const xml = formatParametersXml(replaced);
  assert.match(xml, /<PathFilters ReplaceDefaults="true">/);
  assert.equal(parseXmlParameters(xml, "r.xml").parameters.pathFilters, replaced.pathFilters);
  for (const element of ["Verbosity", "UploadThreadCount", "PeriodicRescanInterval", "B2LargeFileChunkSize", "Storage", "S3Concurrency"]) {
    assert.match(xml, new RegExp(`<${element}>`));
  }
});

test("printouts mask secrets", () => {
  const parameters = {
    ...defaultParameters(),
    storage: "b2" as const,
    remoteStorageKeyID: "keyid-123",
    remoteStorageApplicationKey: "appkey-456",
    remoteStorageBucketID: "bucket-789",
    s3AccessKeyId: "AKIAEXAMPLE",
    s3SecretAccessKey: "s3-secret",
  };
  for (const text of [formatParametersXml(parameters), formatParametersText(parameters)]) {
    for (const secret of ["keyid-123", "appkey-456", "AKIAEXAMPLE", "s3-secret"]) assert.not.ok(text.includes(secret), secret);
    assert.ok(text.includes("bucket-789"), "the bucket ID is not a secret");
    assert.ok(text.includes("***"));
  }
  const text = formatParametersText(parameters);
  assert.match(text, /^PeriodicRescanInterval\s+PT6H \(21600000 ms\)$/m);
  assert.match(text, /^\s+Exclude Prefix\s+\/var$/m);
  assert.match(formatParametersXml(parameters, { revealSecrets: true }), /<RemoteStorageApplicationKey>appkey-456</);
});

test.run();
