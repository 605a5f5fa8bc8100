import { type RemoteOptions, execRemote, isSshConnectionFailure } from "./ssh.ts";

/**
 * Uploads one file to HOST through the shared connection (its bytes on ssh's stdin, `cat` on the
 * far side: nothing is needed there beyond a POSIX shell and `cmp`), atomically and never over
 * other content: the bytes go to a hidden temporary file beside the target (created with
 * noclobber), get their mode, and are then hard-linked to the first of `candidates` that does not
 * exist yet (link(2) never replaces a file, so no reader on HOST ever sees a half-written file and a
 * file created meanwhile is not overwritten); a candidate that already holds exactly these bytes is
 * kept as it is (its mtime too). The script is fixed text; every path reaches it as a quoted
 * positional argument.
 */
const UPLOAD_SCRIPT = [
  'dir=$1; mode=$2; n=$3; shift 3',
  'mkdir -p -- "$dir" || exit 73',
  'while [ "$n" -gt 0 ]; do mkdir -p -- "$1" || exit 73; shift; n=$((n-1)); done',
  '[ -n "$1" ] || exit 64',
  'tmp="$dir/.slurmpipe-upload.$$.tmp"',
  "trap 'rm -f -- \"$tmp\"' EXIT",
  'set -C; cat > "$tmp" || exit 74; set +C',
  'if [ -n "$mode" ]; then chmod -- "$mode" "$tmp" || exit 74; fi',
  'i=0; for p in "$@"; do',
  '  if ln -- "$tmp" "$p" 2>/dev/null; then echo "written $i"; exit 0; fi',
  '  if [ -f "$p" ] && [ ! -L "$p" ] && cmp -s -- "$tmp" "$p"; then echo "same $i"; exit 0; fi',
  "  i=$((i+1))",
  "done",
  'echo "taken"; exit 75',
].join("\n");

export interface UploadRequest {
  /** The directory on HOST the file goes in (made if missing, with its parents). */
  dir: string;
  /** Full remote paths, in order of preference, each inside `dir`. */
  candidates: readonly string[];
  content: string | Uint8Array;
  /** Directories made too (e.g. a run's logs/ beside its script). */
  alsoMake?: readonly string[];
  /** Octal mode for the file (e.g. 0o755); default: HOST's umask, as a local write. */
  mode?: number;
}

export type UploadResult = { status: "written" | "same"; path: string } | { status: "taken" } | { status: "failed"; message: string; connection: boolean };

export async function uploadFile(request: UploadRequest, options: RemoteOptions): Promise<UploadResult> {
  const mode = request.mode === undefined ? "" : (request.mode & 0o7777).toString(8);
  const r = await execRemote(["sh", "-c", UPLOAD_SCRIPT, "slurmpipe-upload", request.dir, mode, String(request.alsoMake?.length ?? 0), ...(request.alsoMake ?? []), ...request.candidates], options, { input: request.content, timeoutMs: 120_000 });
  const m = /^(written|same) (\d+)$/m.exec(r.stdout);
  if (r.exitCode === 0 && m) return { status: m[1] as "written" | "same", path: request.candidates[Number(m[2])]! };
  if (r.exitCode === 75) return { status: "taken" };
  const why = r.timedOut ? "timed out" : r.stderr.trim().split("\n").slice(-1)[0] || `exit ${r.exitCode}`;
  return { status: "failed", message: `cannot write in ${request.dir} on ${options.host}: ${why}`, connection: r.timedOut || isSshConnectionFailure(r.exitCode, r.stderr) };
}

/** The login directory on HOST (`pwd` there), against which relative remote paths are read. */
export async function remoteHome(options: RemoteOptions): Promise<string> {
  const r = await execRemote(["pwd", "-P"], options, { timeoutMs: 60_000 });
  const home = r.stdout.replace(/\n$/, "");
  if (r.exitCode !== 0 || !home.startsWith("/")) throw new Error(`cannot reach ${options.host}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  return home;
}
