import { access, constants } from "node:fs/promises";
import { join } from "node:path";

/** What {@link findExecutable} found: the path to run, or why there is none. */
export type ExecutableLookup = { readonly path: string } | { readonly path?: undefined; readonly problem: string };

/**
 * Where `program` would be run from, as spawn finds it: a name with a slash is checked as it is; a bare name is
 * looked up in each PATH directory in turn. The first executable candidate wins. Without one, `problem` says why
 * (the errno of an explicit path, or "not found in PATH").
 */
export async function findExecutable(program: string, pathVariable = process.env.PATH ?? ""): Promise<ExecutableLookup> {
  const explicit = program.includes("/");
  const candidates = explicit
    ? [program]
    : pathVariable
        .split(":")
        .filter(Boolean)
        .map((dir) => join(dir, program));
  let code = "ENOENT";
  for (const path of candidates) {
    try {
      await access(path, constants.X_OK);
      return { path };
    } catch (err) {
      code = (err as NodeJS.ErrnoException).code ?? "error";
    }
  }
  return { problem: explicit ? code : "not found in PATH" };
}
