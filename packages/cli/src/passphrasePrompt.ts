import { openSync, closeSync } from "node:fs";
import { ReadStream } from "node:tty";
import { BackupError } from "@rtbackup/core";

/**
 * Asks for a passphrase on the controlling terminal, echo off (the terminal's raw mode: nothing typed is shown).
 * Reads /dev/tty, not stdin, so `rtb cat … > file` still prompts; with no terminal it is a KEY_MISSING error that
 * says where else a passphrase can come from. `confirm` asks twice and requires the same answer (a new passphrase).
 */
export async function promptPassphrase(question: string, confirm = false): Promise<string> {
  const first = await askOnce(question);
  if (!confirm) return first;
  const again = await askOnce("Enter it again: ");
  if (again !== first) throw new BackupError("KEY_REJECTED", "the two passphrases differ");
  return first;
}

async function askOnce(question: string): Promise<string> {
  let fd: number;
  try {
    fd = openSync("/dev/tty", "r+");
  } catch {
    throw new BackupError(
      "KEY_MISSING",
      "a passphrase is needed and there is no terminal to ask on: set RTB_PASSPHRASE_FILE, or use --passphrase-file or --key-file",
    );
  }
  const input = new ReadStream(fd);
  input.setRawMode(true);
  process.stderr.write(question);
  try {
    const answer = await new Promise<string>((resolve, reject) => {
      let text = "";
      input.on("data", (data: Buffer) => {
        for (const ch of data.toString("utf8")) {
          if (ch === "\r" || ch === "\n") return resolve(text);
          if (ch === "\u0003" || ch === "\u0004") return reject(new BackupError("KEY_MISSING", "no passphrase was given (interrupted)"));
          if (ch === "\u007f" || ch === "\b") text = [...text].slice(0, -1).join("");
          else if (ch >= " ") text += ch;
        }
      });
      input.on("error", reject);
    });
    if (answer === "") throw new BackupError("KEY_REJECTED", "the passphrase is empty");
    return answer;
  } finally {
    process.stderr.write("\n");
    input.setRawMode(false);
    input.destroy();
    try {
      closeSync(fd);
    } catch {
      // closed by destroy
    }
  }
}
