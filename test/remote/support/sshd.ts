import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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

export async function startSshd(): Promise<Sshd> {
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
    [`Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${join(dir, "host_key")}`, "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", `AllowUsers ${TEST_USER}`, "LogLevel VERBOSE", `PidFile ${join(dir, "sshd.pid")}`, "StrictModes no", "MaxSessions 50",
      // A private Slurm instance (slurm-dev env: SLURM_CONF) is what the sessions' Slurm commands talk to, not /etc/slurm's.
      ...(process.env.SLURM_CONF ? [`SetEnv SLURM_CONF=${process.env.SLURM_CONF}`] : []),
      ""].join("\n"),
  );
  writeFileSync(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${readFileSync(join(dir, "host_key.pub"), "utf8")}`);
  writeFileSync(join(dir, "ssh_config"), [`Host *`, `  IdentityFile ${join(dir, "user_key")}`, `  UserKnownHostsFile ${join(dir, "known_hosts")}`, "  IdentitiesOnly yes", ""].join("\n"));
  const sshBin = join(dir, "ssh");
  writeFileSync(sshBin, `#!/bin/sh\nexec ssh -F ${join(dir, "ssh_config")} "$@"\n`, { mode: 0o755 });
  const sshd = execa("/usr/sbin/sshd", ["-D", "-E", log, "-f", join(dir, "sshd_config")], { reject: false, stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    if (existsSync(log) && readFileSync(log, "utf8").includes("Server listening")) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    port,
    host: `${TEST_USER}@127.0.0.1:${port}`,
    log,
    sshBin,
    pid: () => sshd.pid!,
    accepted: () => readFileSync(log, "utf8").split("\n").filter((l) => /Accepted publickey for /.test(l)).length,
    stop: async () => {
      sshd.kill("SIGKILL");
      await sshd;
    },
  };
}
