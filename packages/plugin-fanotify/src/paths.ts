/** `dir` + `/` + `name`, without doubling the slash at the root. */
export function joinPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/** The parent directory of an absolute path (`/` for `/x`). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

/** The suffix the kernel appends to the path of a deleted object in `/proc/self/fd`. */
export const DELETED_SUFFIX = " (deleted)";
