import { type RemoteOptions, execRemote, isSshConnectionFailure } from "./ssh.ts";

/**
 * Packs a tarball on HOST through the shared connection, in the layout archive gives it, without
 * copying a byte there: a hidden stage directory in the output directory holds one symlink per run
 * (`runs/<name>` -> the run's real directory) and the small files written for the archive (its
 * manifest, checksums, dataset); tar reads the exact list of archive paths it is given, NUL
 * separated on stdin, relative to the stage, never recursing, so it reads nothing it was not
 * named. The tarball is written under a hidden partial name (noclobber) in the output directory
 * and hard-linked to its final name (link(2) never replaces a file); its size and sha256 are taken
 * there. Needs on HOST: a POSIX shell, GNU tar, gzip (or zstd), mktemp and GNU coreutils. Both
 * scripts are fixed text; every path reaches them as a quoted positional argument.
 */
const STAGE_SCRIPT = [
  'out=$1; name=$2; shift 2',
  'mkdir -p -- "$out" && cd -P -- "$out" || exit 73',
  'o=$(pwd -P)',
  'if [ -e "$name" ] || [ -L "$name" ]; then printf "exists\\0%s\\0" "$o"; exit 75; fi',
  'stage=$(mktemp -d "$o/.$name.stage.XXXXXX") || exit 73',
  'mkdir -- "$stage/runs" || exit 73',
  'while [ $# -ge 2 ]; do ln -s -- "$2" "$stage/$1" || exit 73; shift 2; done',
  'printf "ok\\0%s\\0%s\\0" "$o" "$stage"',
].join("\n");

const PACK_SCRIPT = [
  'stage=$1; out=$2; name=$3; fmt=$4; lvl=$5',
  'case $lvl in ""|*[!0-9]*) exit 64 ;; esac',
  'case $fmt in tar.gz) z=gzip; zo=-n ;; tar.zst) z=zstd; zo=-q ;; *) exit 64 ;; esac',
  'cd -P -- "$stage" || exit 73',
  'tmp="$out/.$name.partial.$$"',
  "trap 'rm -f -- \"$tmp\"' EXIT",
  'set -C',
  '{ tar --create --file=- --null --no-recursion --verbatim-files-from --files-from=- --format=pax --pax-option=delete=atime,delete=ctime --owner=0 --group=0 --numeric-owner; echo $? > .rc; } | "$z" "$zo" -"$lvl" -c > "$tmp" || exit 74',
  'set +C',
  // tar's 1: a file changed while it was read (the archive is complete; the caller says which).
  'rc=$(cat .rc); case $rc in 0|1) ;; *) exit 74 ;; esac',
  'if ! ln -- "$tmp" "$out/$name"; then if [ -e "$out/$name" ]; then printf "exists\\0"; exit 75; fi; exit 74; fi',
  'size=$(stat -c %s -- "$out/$name") && sum=$(sha256sum -- "$out/$name" | cut -c1-64) || exit 74',
  'printf "ok\\0%s\\0%s\\0%s\\0" "$rc" "$size" "$sum"',
].join("\n");

const CLEAN_SCRIPT = 'case $1 in "$2"/.*.stage.*) rm -rf -- "$1" ;; *) exit 64 ;; esac';

export type StageResult = { kind: "ok"; out: string; stage: string } | { kind: "exists"; out: string } | { kind: "failed"; message: string; connection: boolean };

export type PackResult = { kind: "ok"; changed: boolean; size: number; sha256: string; path: string } | { kind: "exists" } | { kind: "failed"; message: string; connection: boolean };

function failure(r: { stderr: string; exitCode: number | undefined; timedOut: boolean }, what: string): { kind: "failed"; message: string; connection: boolean } {
  // tar's last line only says that it failed; the first one names the file (a file gone since the listing).
  const lines = r.stderr.trim().split("\n").filter((l) => l !== "" && !/Exiting with failure status/.test(l));
  const why = r.timedOut ? "timed out" : lines[0] || `exit ${r.exitCode}`;
  return { kind: "failed", message: `${what}: ${why}`, connection: r.timedOut || isSshConnectionFailure(r.exitCode, r.stderr) };
}

/** Makes `out` (relative: to the login directory) and the stage in it with one link per run; refuses a `name` that exists. */
export async function stageRemoteArchive(request: { out: string; name: string; links: readonly { path: string; target: string }[] }, options: RemoteOptions): Promise<StageResult> {
  const r = await execRemote(["sh", "-c", STAGE_SCRIPT, "slurmpipe-stage", request.out, request.name, ...request.links.flatMap((l) => [l.path, l.target])], options, { timeoutMs: 120_000 });
  const [kind, a, b] = r.stdout.split("\0");
  if (r.exitCode === 0 && kind === "ok") return { kind: "ok", out: a!, stage: b! };
  if (r.exitCode === 75 && kind === "exists") return { kind: "exists", out: a! };
  return failure(r, `cannot write in ${request.out} on ${options.host}`);
}

/** Packs `paths` (relative to the stage, in this order) into `<out>/<name>`; stage and out as stageRemoteArchive gave them. */
export async function packRemoteTar(request: { stage: string; out: string; name: string; format: "tar.gz" | "tar.zst"; level: number; paths: readonly string[] }, options: RemoteOptions): Promise<PackResult> {
  const input = request.paths.map((p) => `${p}\0`).join("");
  const r = await execRemote(["sh", "-c", PACK_SCRIPT, "slurmpipe-pack", request.stage, request.out, request.name, request.format, String(request.level)], options, { input, timeoutMs: 24 * 3_600_000 });
  const [kind, rc, size, sum] = r.stdout.split("\0");
  if (r.exitCode === 0 && kind === "ok" && /^[0-9a-f]{64}$/.test(sum ?? "")) return { kind: "ok", changed: rc === "1", size: Number(size), sha256: sum!, path: `${request.out}/${request.name}` };
  if (r.exitCode === 75) return { kind: "exists" };
  return failure(r, `cannot pack ${request.out}/${request.name} on ${options.host}`);
}

/** Removes a stage stageRemoteArchive made (and only such a directory: a hidden `.*.stage.*` in `out`). */
export async function removeRemoteStage(stage: string, out: string, options: RemoteOptions): Promise<void> {
  await execRemote(["sh", "-c", CLEAN_SCRIPT, "slurmpipe-clean", stage, out], options, { timeoutMs: 120_000 });
}
