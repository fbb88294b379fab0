/** Entry point of the `rtb` command. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  process.stderr.write(`rtb: no command yet (${argv.slice(2).join(" ")})\n`);
  return 2;
}
