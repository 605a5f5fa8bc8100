import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";

/**
 * A real OpenSSH server (Debian's openssh-server, installed by scripts/test-all) on a free
 * 127.0.0.1 port: its own sshd_config and generated host key in a temp dir, one generated user key
 * for a non-root test user (created if missing), LogLevel VERBOSE to a log file so the tests can
 * count accepted connections. The client side is an ssh wrapper (SLURMPIPE_SSH) reading a config
 * file of the test's, as a user's ~/.ssh/config would.
 */
export const TEST_USER = "spremote";

export interface Sshd {
  dir: string;
  port: number;
  host: string;
  log: string;
  sshBin: string;
  pid: () => number;
  accepted: () => number;
  stop: () => Promise<void>;
  /** kill -9 the listener and every session process under it (the connections die with them). */
  kill9: () => Promise<void>;
  /** Starts sshd again: same port, address, keys and log (after stop or kill9). */
  restart: () => Promise<void>;
}

export interface SshdOptions {
  /** Listen on this address (default 127.0.0.1): an address of a network namespace the test made. */
  address?: string;
  /** Run sshd inside this network namespace (`ip netns exec`). */
  netns?: string;
}

/** Every process below pid (from /proc: sshd's per-connection and per-session children). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // The command name (2nd field) may hold spaces and parentheses: ppid is after the last ')'.
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // already gone
    }
  }
}

/** kill -9 pid and its whole tree: stopped first (SIGSTOP, until no new process appears), so none forks or is re-parented away meanwhile. */
export function killTree(pid: number): void {
  let tree = [pid];
  for (;;) {
    signal(tree, "SIGSTOP");
    const now = [pid, ...descendants(pid)];
    if (now.length === tree.length) break;
    tree = now;
  }
  signal(tree, "SIGKILL");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (a && typeof a === "object" ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

export async function ensureTestUser(): Promise<string> {
  const r = await execa("id", ["-u", TEST_USER], { reject: false });
  // Two test files at a time may both find no user: the second useradd's "already exists" is fine.
  if (r.exitCode !== 0) {
    const made = await execa("useradd", ["-m", "-s", "/bin/bash", TEST_USER], { reject: false });
    if (made.exitCode !== 0 && (await execa("id", ["-u", TEST_USER], { reject: false })).exitCode !== 0) throw new Error(`useradd ${TEST_USER}: ${made.stderr}`);
  }
  // useradd leaves the password "!" (locked), and sshd without PAM refuses a locked account even
  // for a key; "*" is no password at all, and not locked.
  await execa("usermod", ["-p", "*", TEST_USER]);
  return (await execa("sh", ["-c", `getent passwd ${TEST_USER} | cut -d: -f6`])).stdout.trim();
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const address = options.address ?? "127.0.0.1";
  const home = await ensureTestUser();
  const dir = mkdtempSync(join(tmpdir(), "sp-sshd-"));
  chmodSync(dir, 0o755);
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "user_key")]);
  const sshDir = join(home, ".ssh");
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  // Appended, not replaced: test files running at the same time each start an sshd with a key of their own.
  appendFileSync(join(sshDir, "authorized_keys"), readFileSync(join(dir, "user_key.pub")), { mode: 0o600 });
  const ids = (await execa("id", [TEST_USER])).stdout;
  const uid = Number(/uid=(\d+)/.exec(ids)![1]);
  const gid = Number(/gid=(\d+)/.exec(ids)![1]);
  chownSync(sshDir, uid, gid);
  chownSync(join(sshDir, "authorized_keys"), uid, gid);
  // SLURMPIPE_TEST_SSHD_PORT: a fixed port (engineers sharing a machine each get one; one test file
  // at a time then), else a free one.
  const port = Number(process.env.SLURMPIPE_TEST_SSHD_PORT) || (await freePort());
  const log = join(dir, "sshd.log");
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  writeFileSync(
    join(dir, "sshd_config"),
    [`Port ${port}`, `ListenAddress ${address}`, `HostKey ${join(dir, "host_key")}`, "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", `AllowUsers ${TEST_USER}`, "LogLevel VERBOSE", `PidFile ${join(dir, "sshd.pid")}`, "StrictModes no", "MaxSessions 50",
      // A private Slurm instance (slurm-dev env: SLURM_CONF) is what the sessions' Slurm commands talk to, not /etc/slurm's.
      ...(process.env.SLURM_CONF ? [`SetEnv SLURM_CONF=${process.env.SLURM_CONF}`] : []),
      ""].join("\n"),
  );
  writeFileSync(join(dir, "known_hosts"), `[${address}]:${port} ${readFileSync(join(dir, "host_key.pub"), "utf8")}`);
  writeFileSync(join(dir, "ssh_config"), [`Host *`, `  IdentityFile ${join(dir, "user_key")}`, `  UserKnownHostsFile ${join(dir, "known_hosts")}`, "  IdentitiesOnly yes", ""].join("\n"));
  const sshBin = join(dir, "ssh");
  writeFileSync(sshBin, `#!/bin/sh\nexec ssh -F ${join(dir, "ssh_config")} "$@"\n`, { mode: 0o755 });
  const argv = ["/usr/sbin/sshd", "-D", "-E", log, "-f", join(dir, "sshd_config")];
  const spawn = async () => {
    const from = existsSync(log) ? readFileSync(log, "utf8").length : 0;
    const p = options.netns ? execa("ip", ["netns", "exec", options.netns, ...argv], { reject: false, stdio: "ignore" }) : execa(argv[0]!, argv.slice(1), { reject: false, stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      if (existsSync(log) && readFileSync(log, "utf8").slice(from).includes("Server listening")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Boxed: returned bare, the (thenable) process would be awaited until sshd exits.
    return { p };
  };
  let sshd = (await spawn()).p;
  return {
    dir,
    port,
    host: `${TEST_USER}@${address}:${port}`,
    log,
    sshBin,
    pid: () => sshd.pid!,
    accepted: () => readFileSync(log, "utf8").split("\n").filter((l) => /Accepted publickey for /.test(l)).length,
    stop: async () => {
      sshd.kill("SIGKILL");
      await sshd;
    },
    kill9: async () => {
      // ip netns exec execs sshd: its pid is sshd's.
      killTree(sshd.pid!);
      await sshd;
    },
    restart: async () => {
      sshd = (await spawn()).p;
    },
  };
}
