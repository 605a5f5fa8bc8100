import { loadExeca } from "../lazy-execa.ts";
import type { FileKind } from "../fs/regular.ts";
import { type RemoteOptions, isSshConnectionFailure, prepareControlDir, remoteCommandLine, sshArgv } from "./ssh.ts";

/**
 * Reads the bytes of a file on HOST from an offset, through the shared connection, in one call:
 * the file's identity (device, inode, size, mtime) and, when it is the same file (device and inode
 * as the caller last saw, at least `offset` long), the bytes from `offset - back` to the size it had
 * at the stat; else the whole file from 0. `back` bytes of overlap let the caller check that what
 * it holds is still the file's content (a log truncated and rewritten in place keeps its inode).
 *
 * The rules of log-parse's local open (open.ts) hold on HOST: only a regular file is read (a FIFO,
 * device, socket or directory is refused by its kind, and dd opens with nonblock and nofollow, so
 * a path swapped for a FIFO or symlink after the check can neither block nor redirect the read); a
 * symlink is followed only to a file inside the file's own directory or one of `roots`, unless
 * `anySymlink`. Needs on HOST: a POSIX shell and GNU coreutils (stat -c, readlink -f, dd iflag=).
 * The script is fixed text; every path and number reaches it as a quoted positional argument.
 */
const FETCH_SCRIPT = [
  'p=$1; off=$2; back=$3; dev=$4; ino=$5; any=$6; shift 6',
  // As open.ts: what the path is (a symlink followed) first, then where a symlink points.
  'if [ ! -e "$p" ]; then echo missing; exit 0; fi',
  'k=',
  'if [ -d "$p" ]; then k=directory; elif [ -p "$p" ]; then k=fifo; elif [ -S "$p" ]; then k=socket; elif [ -c "$p" ]; then k=character_device; elif [ -b "$p" ]; then k=block_device; elif [ ! -f "$p" ]; then k=not_regular; fi',
  'if [ -n "$k" ]; then echo "refused $k"; exit 0; fi',
  't=$p',
  'if [ -L "$p" ]; then',
  '  t=$(readlink -f -- "$p") || { echo "refused unreadable"; exit 0; }',
  '  if [ "$any" != 1 ]; then',
  '    ok=0',
  '    for r in "$(dirname -- "$p")" "$@"; do',
  '      rr=$(cd -P -- "$r" 2>/dev/null && pwd -P) || continue',
  '      case "$t" in "$rr"|"$rr"/*) ok=1 ;; esac',
  '    done',
  '    if [ "$ok" != 1 ]; then echo "refused symlink_outside"; printf %s "$t"; exit 0; fi',
  '  fi',
  'fi',
  'if [ ! -r "$t" ]; then echo "refused unreadable"; exit 0; fi',
  'id=$(stat -L -c "%d %i %s %Y" -- "$t") || { echo "refused unreadable"; exit 0; }',
  'set -- $id',
  'start=0',
  'if [ "$1" = "$dev" ] && [ "$2" = "$ino" ] && [ "$3" -ge "$off" ]; then start=$((off - back)); fi',
  'echo "ok $1 $2 $3 $4 $start"',
  'exec dd if="$t" iflag=nofollow,nonblock,skip_bytes,count_bytes skip="$start" count=$(($3 - start)) bs=65536 2>/dev/null',
].join("\n");

export interface RangeRequest {
  path: string;
  /** Where the caller's copy ends; 0 (or another file's identity) reads the whole file. */
  offset: number;
  /** Bytes before `offset` sent again, for the caller to compare with its copy (<= offset). */
  back: number;
  /** The identity the caller's copy came from. */
  dev?: string;
  ino?: string;
  roots?: readonly string[];
  anySymlink?: boolean;
}

export type RangeResult =
  | { kind: "ok"; dev: string; ino: string; size: number; mtimeS: number; start: number; bytes: Buffer }
  | { kind: "missing" }
  | { kind: "refused"; refused: FileKind | "symlink_outside" | "unreadable"; target?: string }
  | { kind: "failed"; message: string; connection: boolean };

const REFUSALS = new Set(["directory", "fifo", "socket", "character_device", "block_device", "not_regular", "symlink_outside", "unreadable"]);

export async function fetchRange(request: RangeRequest, options: RemoteOptions): Promise<RangeResult> {
  if (!(Number.isSafeInteger(request.offset) && request.offset >= 0 && Number.isSafeInteger(request.back) && request.back >= 0 && request.back <= request.offset)) throw new RangeError("fetchRange: offset and back must be whole numbers, back <= offset");
  prepareControlDir(options);
  const ssh = options.sshBin ?? process.env.SLURMPIPE_SSH ?? "ssh";
  const words = ["sh", "-c", FETCH_SCRIPT, "slurmpipe-fetch", request.path, String(request.offset), String(request.back), request.dev ?? "-", request.ino ?? "-", request.anySymlink ? "1" : "0", ...(request.roots ?? [])];
  const r = await (await loadExeca())(ssh, [...sshArgv(options), remoteCommandLine(words)], { timeout: 300_000, reject: false, stdin: "ignore", encoding: "buffer", stripFinalNewline: false });
  const out = Buffer.from(r.stdout as Uint8Array);
  const stderr = Buffer.from((r.stderr ?? new Uint8Array()) as Uint8Array).toString("utf8");
  const nl = out.indexOf(10);
  const header = (nl < 0 ? out : out.subarray(0, nl)).toString("utf8").split(" ");
  const rest = nl < 0 ? Buffer.alloc(0) : out.subarray(nl + 1);
  if (r.exitCode === 0 && header[0] === "missing") return { kind: "missing" };
  if (r.exitCode === 0 && header[0] === "refused" && REFUSALS.has(header[1] ?? "")) return { kind: "refused", refused: header[1] as "unreadable", ...(rest.length > 0 ? { target: rest.toString("utf8") } : {}) };
  const nums = header.slice(3).map(Number);
  // dd's own failure is not an error here: fewer bytes than asked are what the file had (it shrank).
  if (header[0] === "ok" && header.length === 6 && nums.every((n) => Number.isSafeInteger(n) && n >= 0) && (r.exitCode === 0 || r.exitCode === 1))
    return { kind: "ok", dev: header[1]!, ino: header[2]!, size: nums[0]!, mtimeS: nums[1]!, start: nums[2]!, bytes: rest };
  const why = r.timedOut ? "timed out" : stderr.trim().split("\n").slice(-1)[0] || `exit ${r.exitCode}`;
  return { kind: "failed", message: `${options.host}:${request.path}: cannot read (${why})`, connection: Boolean(r.timedOut) || isSshConnectionFailure(r.exitCode, stderr) };
}
