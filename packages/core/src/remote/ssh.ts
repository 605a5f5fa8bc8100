import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadExeca } from "../lazy-execa.ts";
import { sha256 } from "../hash.ts";
import { shellQuote } from "../shell/quote.ts";
import { type RemoteHost, parseRemoteHost } from "./host.ts";

/**
 * One multiplexed OpenSSH connection per command run: the first ssh call becomes the master
 * (ControlMaster=auto) and stays up ControlPersist after the last one, so a whole watch costs one
 * TCP connection and one authentication. Auth is whatever the user's ssh does (agent, keys,
 * ProxyJump, 2FA on the first connect): nothing here reads or stores a secret, and host keys are
 * checked as the user's ssh config says (never StrictHostKeyChecking=no).
 */
export interface RemoteOptions {
  /** `--remote` as given (alias, host, user@host, user@host:port). */
  host: string;
  /** The command's state directory: the control socket lives in `<state>/ssh/`. */
  stateDir: string;
  /** BatchMode=yes: fail instead of prompting (cron). Off by default: 2FA needs a prompt once. */
  batchMode?: boolean;
  /** Seconds; bound a connect and a dead connection. */
  connectTimeoutS?: number;
  serverAliveIntervalS?: number;
  serverAliveCountMax?: number;
  /** How long the master outlives the last call. Default 10m. */
  controlPersist?: string;
  /** The ssh program (default: ssh on PATH, or $SLURMPIPE_SSH). */
  sshBin?: string;
}

/** sun_path is 108 bytes on Linux, 104 on macOS/BSD; ssh adds a temporary suffix while binding (~17). */
const SOCKET_PATH_LIMIT = 104 - 20;

/**
 * The control socket for this host: `<state>/ssh/<hash>`, hashed so that no host name, user or
 * port length can push it over the unix-socket path limit. A state directory too deep for even that
 * gets a 0700 directory under the temp directory instead, named by the same hash of state dir + host.
 */
export function controlPath(host: RemoteHost, stateDir: string): string {
  const abs = resolve(stateDir);
  const id = sha256(`${host.destination}:${host.port ?? ""}`).slice(0, 16);
  const inState = join(abs, "ssh", id);
  if (Buffer.byteLength(inState) <= SOCKET_PATH_LIMIT) return inState;
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  return join(tmpdir(), `slurmpipe-ssh-${uid}`, sha256(`${abs}\0${id}`).slice(0, 16));
}

/** ssh's options for one call through the shared connection, ending with `--`-free destination. */
export function sshArgv(options: RemoteOptions): string[] {
  const host = parseRemoteHost(options.host);
  const argv = [
    "-o",
    "ControlMaster=auto",
    "-o",
    `ControlPath=${controlPath(host, options.stateDir)}`,
    "-o",
    `ControlPersist=${options.controlPersist ?? "10m"}`,
    "-o",
    `ConnectTimeout=${options.connectTimeoutS ?? 15}`,
    "-o",
    `ServerAliveInterval=${options.serverAliveIntervalS ?? 10}`,
    "-o",
    `ServerAliveCountMax=${options.serverAliveCountMax ?? 3}`,
    // stdin is never forwarded unless a call sends data (uploads); -T: no tty, output byte for byte.
    "-T",
  ];
  if (options.batchMode) argv.push("-o", "BatchMode=yes");
  if (host.port !== undefined) argv.push("-p", String(host.port));
  argv.push(host.destination);
  return argv;
}

/** Makes the socket's directory (0700: whoever can reach the socket can run commands as the user). */
export function prepareControlDir(options: RemoteOptions): void {
  const path = controlPath(parseRemoteHost(options.host), options.stateDir);
  mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
}

/**
 * The remote command line for an argv: every word quoted (POSIX single quotes, so the remote login
 * shell may be sh, dash or bash), run by `sh -c` with a fixed script that clears the variables
 * that change Slurm's output, pins its time format and enters `cwd`. No word of `argv` or `cwd` is
 * ever part of the script itself.
 */
export function remoteCommandLine(argv: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): string {
  const script = [
    `for v in $(env | sed -n 's/^\\(SBATCH_[A-Za-z0-9_]*\\|SQUEUE_[A-Za-z0-9_]*\\|SACCT_[A-Za-z0-9_]*\\|SINFO_[A-Za-z0-9_]*\\)=.*/\\1/p'); do unset "$v"; done`,
    'if [ -n "$1" ]; then cd "$1" || exit 255; fi',
    "shift",
    'exec env "$@"',
  ].join("; ");
  const envWords = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const words = ["sh", "-c", script, "slurmpipe-remote", options.cwd ?? "", ...envWords, ...argv];
  return words.map((w) => shellQuote(w, { posix: true })).join(" ");
}

/** ssh's own failures (exit 255): the connection, not the remote command. */
const SSH_CONNECTION = [
  /ssh: connect to host/i,
  /Connection (timed out|refused|reset|closed)/i,
  /Timeout, server .* not responding/i,
  /kex_exchange_identification/i,
  /Broken pipe/i,
  /Could not resolve hostname/i,
  /mux_client_request_session/i,
  /Control socket connect/i,
  /Network is unreachable/i,
  /No route to host/i,
];

/** True when a call failed because of the ssh connection (rc 255 and ssh's words), so a retry or reconciliation applies. */
export function isSshConnectionFailure(exitCode: number | undefined, stderr: string): boolean {
  return exitCode === 255 && (SSH_CONNECTION.some((r) => r.test(stderr)) || stderr.trim() === "");
}

export interface RemoteExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  timedOut: boolean;
}

/** Runs argv on the remote host through the shared connection (execa, argv array, no local shell). */
export async function execRemote(
  argv: readonly string[],
  options: RemoteOptions,
  call: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string | Uint8Array } = {},
): Promise<RemoteExecResult> {
  prepareControlDir(options);
  const ssh = options.sshBin ?? process.env.SLURMPIPE_SSH ?? "ssh";
  const line = remoteCommandLine(argv, { ...(call.cwd ? { cwd: call.cwd } : {}), ...(call.env ? { env: call.env } : {}) });
  const r = await (await loadExeca())(ssh, [...sshArgv(options), line], {
    timeout: call.timeoutMs ?? 60_000,
    reject: false,
    ...(call.input !== undefined ? { input: call.input } : { stdin: "ignore" as const }),
    encoding: "utf8",
    stripFinalNewline: false,
  });
  return { stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? ""), exitCode: r.exitCode, timedOut: Boolean(r.timedOut) };
}

/** Ends the shared connection (`ssh -O exit`); harmless when none is up. */
export async function closeRemote(options: RemoteOptions): Promise<void> {
  const ssh = options.sshBin ?? process.env.SLURMPIPE_SSH ?? "ssh";
  const argv = sshArgv(options);
  await (await loadExeca())(ssh, [...argv.slice(0, -1), "-O", "exit", argv[argv.length - 1]!], { reject: false, stdin: "ignore", timeout: 10_000 });
}
