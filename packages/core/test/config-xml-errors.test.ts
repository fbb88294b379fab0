// XML configuration errors: each bad element or value named with its line (split from config-xml.test.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, ConfigValidationError, parseXmlParameters, type ConfigProblem } from "@rtbackup/core";

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

const cases: [string, string, RegExp][] = [
  ["unknown Verbosity", "<Verbosity>Loud</Verbosity>", /^rtb\.xml:3: <Verbosity>: expected Quiet, Normal or Verbose, got "Loud"$/],
  ["zero threads", "<UploadThreadCount>0</UploadThreadCount>", /<UploadThreadCount>: expected a whole number from 1 to 256, got "0"/],
  ["non-numeric", "<QueueHighWaterMark>lots</QueueHighWaterMark>", /<QueueHighWaterMark>: expected a whole number from 1 to 1000000000, got "lots"/],
  ["bad duration", "<SnapshotSharingWindow>PT5X</SnapshotSharingWindow>", /:3: <SnapshotSharingWindow>: expected an xs:duration such as PT30S.*, got "PT5X"/],
  ["empty duration P", "<LongPollingInterval>P</LongPollingInterval>", /<LongPollingInterval>: expected a positive xs:duration.*got "P"/],
  ["empty duration PT", "<LongPollingInterval>PT</LongPollingInterval>", /got "PT"/],
  ["negative duration", "<LongPollingInterval>-PT5S</LongPollingInterval>", /negative durations are not allowed, got "-PT5S"/],
  ["zero polling interval", "<OpenFileHandlePollingInterval>PT0S</OpenFileHandlePollingInterval>", /expected a positive xs:duration/],
  ["duration longer than a timer", "<PeriodicRescanInterval>P30D</PeriodicRescanInterval>", /at most 24 days\), got "P30D"/],
  ["bad boolean", "<IPCUseTCPSocket>yes</IPCUseTCPSocket>", /<IPCUseTCPSocket>: expected true, false, 1 or 0, got "yes"/],
  ["boolean is case-sensitive as in .NET", "<IPCUseTCPSocket>True</IPCUseTCPSocket>", /got "True"/],
  [
    "relative path",
    "<RemoteFileStateCachePath>var/cache</RemoteFileStateCachePath>",
    /<RemoteFileStateCachePath>: expected an absolute path, got "var\/cache"/,
  ],
  ["relative path in a list", "<BackupRoots><string>data</string></BackupRoots>", /<BackupRoots><string>: expected an absolute path, got "data"/],
  ["relative binary with a slash", "<ZFSBinaryPath>sbin/zfs</ZFSBinaryPath>", /<ZFSBinaryPath>: expected an absolute path or a command name/],
  ["port out of range", "<IPCBindTCPPortNumber>70000</IPCBindTCPPortNumber>", /from 0 to 65535, got "70000"/],
  ["bad address", "<IPCBindTCPAddress>localhost:80</IPCBindTCPAddress>", /<IPCBindTCPAddress>: expected an IPv4 or IPv6 address/],
  ["B2 chunk below B2's minimum", "<B2LargeFileChunkSize>1000</B2LargeFileChunkSize>", /from 5000000 to 5000000000, got "1000"/],
  ["chunk size readers would refuse", "<ChunkSize>2048</ChunkSize>", /<ChunkSize>: .*from 4096 to 1073741824, got "2048"/],
  ["unknown storage", "<Storage>ftp</Storage>", /<Storage>: expected local, b2 or s3, got "ftp"/],
  ["unknown stability check", "<StabilityCheck>inotify</StabilityCheck>", /expected procfs or lsof/],
  ["bad S3 endpoint", "<S3Endpoint>ftp://x</S3Endpoint>", /<S3Endpoint>: expected an http:\/\/ or https:\/\/ URL/],
  ["bad prefix", "<RepositoryPrefix>/abs/</RepositoryPrefix>", /<RepositoryPrefix>: expected a key prefix/],
  [
    "unknown filter type",
    '<PathFilters><PathFilter Type="Glob" Value="*.o" Action="Exclude" /></PathFilters>',
    /:3: <PathFilter Type>: expected Prefix, Component or RegularExpression, got "Glob"/,
  ],
  [
    "unknown filter action",
    '<PathFilters><PathFilter Type="Prefix" Value="/x" Action="Skip" /></PathFilters>',
    /<PathFilter Action>: expected Include or Exclude, got "Skip"/,
  ],
  [
    "missing action",
    '<PathFilters><PathFilter Type="Prefix" Value="/x" /></PathFilters>',
    /<PathFilter Action>: missing attribute \(expected Include or Exclude\)/,
  ],
  [
    "invalid regex",
    '<PathFilters><PathFilter Type="RegularExpression" Value="(abc" Action="Exclude" /></PathFilters>',
    /<PathFilter Value>: expected a JavaScript regular expression \(Unterminated group\), got "\(abc"/,
  ],
  [
    "relative prefix",
    '<PathFilters><PathFilter Type="Prefix" Value="home" Action="Exclude" /></PathFilters>',
    /expected an absolute path for a Prefix filter, got "home"/,
  ],
  ["component with a slash", '<PathFilters><PathFilter Type="Component" Value="a/b" Action="Exclude" /></PathFilters>', /expected a single path component/],
  [
    "unknown filter attribute",
    '<PathFilters><PathFilter Typ="Prefix" Type="Prefix" Value="/x" Action="Exclude" /></PathFilters>',
    /<PathFilter Typ>: unknown attribute \(did you mean Type\?\)/,
  ],
  ["bad ReplaceDefaults", '<PathFilters ReplaceDefaults="yes" />', /<PathFilters ReplaceDefaults>: expected true, false, 1 or 0, got "yes"/],
  [
    "unknown element with suggestion",
    "<UploadThredCount>4</UploadThredCount>",
    /:3: <UploadThredCount>: unknown element \(did you mean <UploadThreadCount>\?\)/,
  ],
  ["unknown element, case", "<verbosity>Normal</verbosity>", /did you mean <Verbosity>\?/],
  ["unknown element without suggestion", "<Frobnicate>1</Frobnicate>", /<Frobnicate>: unknown element$/],
  [
    "duplicate element",
    "<UploadThreadCount>4</UploadThreadCount>\n  <UploadThreadCount>5</UploadThreadCount>",
    /:4: <UploadThreadCount>: appears more than once \(first on line 3\)/,
  ],
  [
    "a list item that is not <string>",
    "<MonitorFileSystemTypes><item>zfs</item></MonitorFileSystemTypes>",
    /<MonitorFileSystemTypes><item>: unknown element \(expected <string>\)/,
  ],
  ["an element inside a value", "<Verbosity><Normal /></Verbosity>", /<Verbosity>: expected a value, found the element <Normal>/],
  ["S3 without a bucket", "<Storage>s3</Storage>", /<S3Bucket>: must be set when storage is s3/],
  [
    "S3 key ID without its secret",
    "<Storage>s3</Storage>\n  <S3Bucket>b</S3Bucket>\n  <S3AccessKeyId>AKIA</S3AccessKeyId>",
    /<S3SecretAccessKey>: must be set together with S3AccessKeyId/,
  ],
  ["b2 without credentials", "<Storage>b2</Storage>", /<RemoteStorageKeyID>: must be set when storage is b2/],
];

for (const [name, element, expected] of cases) {
  test(`error: ${name}`, () => {
    const problems = problemsOf(doc(element));
    assert.ok(problems.length >= 1);
    assert.match(problems[0]!.text, expected);
    assert.ok(problems[0]!.text.startsWith("rtb.xml"), "names the file");
  });
}

test("error: QueueLowWaterMark not below QueueHighWaterMark, either way round", () => {
  assert.match(
    onlyProblem(doc("<QueueHighWaterMark>100</QueueHighWaterMark>", "<QueueLowWaterMark>100</QueueLowWaterMark>")).text,
    /^rtb\.xml:4: <QueueLowWaterMark>: expected a number below QueueHighWaterMark \(100\), got 100$/,
  );
  assert.match(
    onlyProblem(doc("<QueueHighWaterMark>3000</QueueHighWaterMark>")).text,
    /^rtb\.xml:3: <QueueHighWaterMark>: expected a number above QueueLowWaterMark \(5000\), got 3000$/,
  );
});

test("error: storage defaulted to b2 by a key ID needs the other credentials", () => {
  const problems = problemsOf(doc("<RemoteStorageKeyID>0001</RemoteStorageKeyID>"));
  assert.equal(
    problems.map((p) => p.subject),
    ["<RemoteStorageApplicationKey>", "<RemoteStorageBucketID>"],
  );
  assert.match(problems[0]!.message, /RemoteStorageKeyID is set, so storage is b2/);
});

test("malformed XML gives the line and column", () => {
  const problem = onlyProblem("<OperatingParameters>\n  <Verbosity>Normal</Verbositi>\n</OperatingParameters>");
  assert.is(problem.line, 2);
  assert.ok(problem.column !== undefined);
  assert.match(problem.text, /^rtb\.xml:2:\d+: malformed XML: .*Verbosit/);
});

test("wrong root element, several roots, DOCTYPE", () => {
  assert.match(onlyProblem("<?xml version='1.0'?>\n<Settings />").text, /^rtb\.xml:2: <Settings>: expected the root element <OperatingParameters>$/);
  assert.match(onlyProblem("<OperatingParameters/>\n<OperatingParameters/>").text, /expected one <OperatingParameters> root element, found 2/);
  assert.match(onlyProblem('<!DOCTYPE x [<!ENTITY a "b">]>\n<OperatingParameters/>').text, /^rtb\.xml:1: malformed XML: a DOCTYPE is not allowed$/);
  assert.match(onlyProblem("").text, /malformed XML/);
  assert.match(onlyProblem("<OperatingParameters><__proto__>1</__proto__></OperatingParameters>").text, /^rtb\.xml: malformed XML: .*__proto__/);
});

test("every problem of a file is reported at once, in line order, each with its line", () => {
  const text = doc(
    "<Verbosity>Loud</Verbosity>",
    "<UploadThreadCount>0</UploadThreadCount>",
    "<PathFilters>",
    '  <PathFilter Type="Prefix"',
    '              Value="relative" Action="Exclude" />',
    "</PathFilters>",
    "<Nope />",
  );
  try {
    parseXmlParameters(text, "rtb.xml");
    assert.unreachable("should throw");
  } catch (err) {
    assert.instance(err, ConfigValidationError);
    const { problems, message } = err as ConfigValidationError;
    assert.equal(
      problems.map((p) => [p.line, p.subject]),
      [
        [3, "<Verbosity>"],
        [4, "<UploadThreadCount>"],
        [7, "<PathFilter Value>"],
        [9, "<Nope>"],
      ],
    );
    assert.ok(message.startsWith("rtb.xml: 4 problems:\n  rtb.xml:3: <Verbosity>"), message);
    for (const p of problems) assert.ok(message.includes(p.text));
  }
});

test("secrets never appear in error messages", () => {
  const secret = "K0secretApplicationKeyKU";
  const cases = [
    doc(`<RemoteStorageApplicationKey>${secret}<b></b></RemoteStorageApplicationKey>`, "<UploadThreadCount>0</UploadThreadCount>"),
    doc(`<RemoteStorageApplicationKey>${secret}<b></RemoteStorageApplicationKey>`),
    doc(`<S3SecretAccessKey>${secret}</S3SecretAccessKey>`, `<S3SecretAccessKey>${secret}</S3SecretAccessKey>`, "<Storage>b2</Storage>"),
  ];
  for (const text of cases) {
    try {
      parseXmlParameters(text, "rtb.xml");
      assert.unreachable("should throw");
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.not.ok((err as Error).message.includes(secret), (err as Error).message);
      assert.not.ok((err as Error).message.includes("K0secret"), (err as Error).message);
    }
  }
});

test.run();
