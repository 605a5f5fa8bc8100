import { type RemoteOptions, execRemote, isSshConnectionFailure } from "./ssh.ts";

/**
 * Lists directory trees on HOST through the shared connection, in one call: for each directory,
 * its real absolute path and every entry below it that is not a directory (regular files, links,
 * FIFOs, sockets, devices: each is decided by the caller, none is opened), with its type, size,
 * mtime and mode, and, when asked, the sha256 of every regular file. find does not follow links
 * (-P), so nothing outside a tree is listed or read. Every path is NUL-terminated (a name may hold
 * a newline). Needs on HOST: a POSIX shell, GNU find (-printf) and GNU coreutils (sha256sum -z).
 * The script is fixed text; every directory reaches it as a quoted positional argument.
 */
const TREE_SCRIPT = [
  'hash=$1; shift',
  'i=0',
  'for d in "$@"; do',
  // An empty name is no directory (cd "" would stay where it is).
  '  ( if [ -n "$d" ] && cd -P -- "$d" 2>/dev/null; then',
  '      printf "D\\t%s\\tok\\t%s\\0" "$i" "$(pwd -P)"',
  "      find . -mindepth 1 ! -type d -printf 'F\\t%y\\t%s\\t%T@\\t%m\\t%P\\0'",
  '      if [ "$hash" = 1 ]; then find . -mindepth 1 -type f -exec sha256sum -z -- {} + || true; fi',
  '    else printf "D\\t%s\\tmissing\\0" "$i"; fi )',
  '  i=$((i+1))',
  'done',
  'printf "END\\0"',
].join("\n");

export type RemoteEntryType = "file" | "symlink" | "fifo" | "socket" | "character_device" | "block_device" | "other";

export interface RemoteEntry {
  /** Relative to the tree's root, forward slashes. */
  rel: string;
  type: RemoteEntryType;
  size: number;
  mtimeMs: number;
  mode: number;
  /** Of a regular file, when hashes were asked for and it could be read. */
  sha256?: string;
}

export type RemoteTree = { dir: string; kind: "missing" } | { dir: string; kind: "ok"; realDir: string; entries: RemoteEntry[] };

export type TreeResult = { ok: true; trees: RemoteTree[]; stderr: string } | { ok: false; message: string; connection: boolean };

const TYPES: Record<string, RemoteEntryType> = { f: "file", l: "symlink", p: "fifo", s: "socket", c: "character_device", b: "block_device" };

/** find's %T@ (seconds with a fraction) as whole milliseconds, as archive stores a local mtime. */
function mtimeMs(text: string): number {
  const [s, frac = ""] = text.split(".");
  return Number(s) * 1000 + Number(`${frac}000`.slice(0, 3));
}

export async function listRemoteTrees(dirs: readonly string[], options: RemoteOptions, how: { hash: boolean; timeoutMs?: number }): Promise<TreeResult> {
  const r = await execRemote(["sh", "-c", TREE_SCRIPT, "slurmpipe-tree", how.hash ? "1" : "0", ...dirs], options, { timeoutMs: how.timeoutMs ?? 24 * 3_600_000 });
  const items = r.stdout.split("\0");
  // The END marker: a listing cut short (a dropped connection) is a failure, never a shorter tree.
  if (items[items.length - 2] !== "END") {
    const why = r.timedOut ? "timed out" : r.stderr.trim().split("\n").slice(-1)[0] || `exit ${r.exitCode}`;
    return { ok: false, message: `cannot list the run directories on ${options.host}: ${why}`, connection: r.timedOut || isSshConnectionFailure(r.exitCode, r.stderr) };
  }
  const trees: RemoteTree[] = [];
  let current: { dir: string; kind: "ok"; realDir: string; entries: RemoteEntry[]; byRel: Map<string, RemoteEntry> } | undefined;
  for (const item of items.slice(0, -2)) {
    if (item.startsWith("D\t")) {
      const [, index, kind, ...rest] = item.split("\t");
      const dir = dirs[Number(index)]!;
      if (kind === "ok") {
        current = { dir, kind: "ok", realDir: rest.join("\t"), entries: [], byRel: new Map() };
        trees.push(current);
      } else {
        current = undefined;
        trees.push({ dir, kind: "missing" });
      }
    } else if (item.startsWith("F\t") && current) {
      const parts = item.split("\t");
      const e: RemoteEntry = { rel: parts.slice(5).join("\t"), type: TYPES[parts[1]!] ?? "other", size: Number(parts[2]), mtimeMs: mtimeMs(parts[3]!), mode: Number.parseInt(parts[4]!, 8) };
      current.entries.push(e);
      current.byRel.set(e.rel, e);
    } else if (current) {
      // sha256sum -z: "<64 hex>  ./<rel>" with the name unescaped.
      const m = /^([0-9a-f]{64}) {2}\.\/(.*)$/s.exec(item);
      const e = m ? current.byRel.get(m[2]!) : undefined;
      if (e) e.sha256 = m![1]!;
    }
  }
  return { ok: true, trees: trees.map((t) => (t.kind === "ok" ? { dir: t.dir, kind: "ok", realDir: t.realDir, entries: t.entries } : t)), stderr: r.stderr };
}
