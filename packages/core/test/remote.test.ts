import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RemoteHostError, controlPath, execRemote, parseRemoteHost, remoteCommandLine, runSlurm, sshArgv } from "../src/index.ts";

// The injection corpus of quote.test.ts (hostile run names and parameters), plus option-looking words.
const NASTY = ["$(touch PWNED)", "`touch PWNED`", "it's", 'say "hi"', "a;touch PWNED", "x\ny", " lead", "#hash", "back\\slash", "☃ unicode ü", "", "*", "~", "a=b", "$HOME", "tab\there", "cr\rx", "\u001b[31m", "!event", "-oProxyCommand=touch PWNED", "--", "'; touch PWNED; '"];

/**
 * A stand-in for ssh + sshd: records its argv and runs the remote command line the way sshd does,
 * with the user's login shell `-c` (dash here: no bash-only quoting may reach the remote host).
 */
function fakeSsh(): { bin: string; dir: string; argv: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), "sp-remote-"));
  const bin = join(dir, "ssh");
  writeFileSync(bin, `#!/bin/bash\nprintf '%s\\0' "$@" > ${dir}/argv\ncd ${dir}\nexec dash -c "\${@: -1}"\n`);
  chmodSync(bin, 0o755);
  return { bin, dir, argv: () => readFileSync(join(dir, "argv"), "utf8").split("\0").slice(0, -1) };
}

describe("parseRemoteHost", () => {
  it("reads aliases, user@host and ports", () => {
    expect(parseRemoteHost("lumi")).toEqual({ destination: "lumi", spec: "lumi" });
    expect(parseRemoteHost("me@login.example.org")).toMatchObject({ destination: "me@login.example.org" });
    expect(parseRemoteHost("me@127.0.0.1:2222")).toMatchObject({ destination: "me@127.0.0.1", port: 2222 });
    expect(parseRemoteHost("me@[::1]:2222")).toMatchObject({ destination: "me@::1", port: 2222 });
  });
  it("refuses option-looking, empty and malformed hosts", () => {
    for (const bad of ["", "-oProxyCommand=touch x", "me@", "me@host:99999", "a b", "host;id", "me@-x", "$(id)"]) {
      expect(() => parseRemoteHost(bad), bad).toThrow(RemoteHostError);
    }
  });
});

describe("sshArgv", () => {
  it("multiplexes over a control socket in the state dir, bounded, never disabling host key checks", () => {
    const argv = sshArgv({ host: "me@127.0.0.1:2222", stateDir: "/tmp/st" });
    const opts = argv.filter((_, i) => argv[i - 1] === "-o");
    expect(opts).toContain("ControlMaster=auto");
    expect(opts.find((o) => o.startsWith("ControlPath="))).toMatch(/^ControlPath=\/tmp\/st\/ssh\/[0-9a-f]{16}$/);
    expect(opts.some((o) => o.startsWith("ControlPersist="))).toBe(true);
    expect(opts).toEqual(expect.arrayContaining(["ConnectTimeout=15", "ServerAliveInterval=10", "ServerAliveCountMax=3"]));
    expect(argv.join(" ")).not.toMatch(/StrictHostKeyChecking/i);
    expect(opts).not.toContain("BatchMode=yes");
    expect(sshArgv({ host: "x", stateDir: "/tmp/st", batchMode: true })).toContain("BatchMode=yes");
    expect(argv.slice(-3)).toEqual(["-p", "2222", "me@127.0.0.1"]);
  });
  it("keeps the control socket under the unix socket path limit, whatever the state dir", () => {
    const deep = `/tmp/${"d".repeat(200)}/state`;
    const p = controlPath(parseRemoteHost("a-very-long-user-name@a.very.long.host.name.example.org:2222"), deep);
    expect(Buffer.byteLength(p)).toBeLessThanOrEqual(84);
    expect(controlPath(parseRemoteHost("x"), deep)).not.toBe(controlPath(parseRemoteHost("y"), deep));
  });
});

describe("remote command lines", () => {
  it("hostile words reach the remote argv byte for byte through a POSIX login shell, and run nothing", async () => {
    const ssh = fakeSsh();
    const r = await execRemote(["printf", "%s\\0", ...NASTY], { host: "box", stateDir: join(ssh.dir, "st"), sshBin: ssh.bin });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(NASTY.map((v) => `${v}\0`).join(""));
    expect(existsSync(join(ssh.dir, "PWNED"))).toBe(false);
    expect(ssh.argv()).not.toContain("-oProxyCommand=touch PWNED");
  });
  it("a hostile working directory is entered, not run", async () => {
    const ssh = fakeSsh();
    const r = await execRemote(["pwd"], { host: "box", stateDir: join(ssh.dir, "st"), sshBin: ssh.bin }, { cwd: "/tmp/$(touch PWNED)'; touch PWNED" });
    expect(r.exitCode).toBe(255);
    expect(existsSync(join(ssh.dir, "PWNED"))).toBe(false);
  });
  it("clears the variables that change Slurm's output on the remote side", async () => {
    const ssh = fakeSsh();
    // The fake sshd's login environment is this process's: set what a user's .bashrc might.
    process.env.SQUEUE_FORMAT = "%i";
    try {
      const r = await execRemote(["sh", "-c", 'echo "[$SQUEUE_FORMAT][$SLURM_TIME_FORMAT]"'], { host: "box", stateDir: join(ssh.dir, "st"), sshBin: ssh.bin }, { env: { SLURM_TIME_FORMAT: "standard" } });
      expect(r.stdout).toBe("[][standard]\n");
    } finally {
      delete process.env.SQUEUE_FORMAT;
    }
    expect(remoteCommandLine(["squeue"])).toMatch(/^sh -c '/);
  });
});

describe("runSlurm over ssh", () => {
  it("runs the Slurm command on the remote host with its arguments quoted", async () => {
    const ssh = fakeSsh();
    const r = await runSlurm("printf", ["%s|", "a b", "$(id)"], { remote: { host: "box", stateDir: join(ssh.dir, "st"), sshBin: ssh.bin } });
    expect(r.stdout).toBe("a b|$(id)|");
  });
  it("a lost connection (ssh exit 255) is a transient failure, retried, never a Slurm verdict", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-remote-"));
    const bin = join(dir, "ssh");
    writeFileSync(bin, `#!/bin/sh\necho x >> ${dir}/calls\necho "ssh: connect to host 127.0.0.1 port 2222: Connection refused" >&2\nexit 255\n`);
    chmodSync(bin, 0o755);
    const err = await runSlurm("squeue", ["-h"], { remote: { host: "box", stateDir: join(dir, "st"), sshBin: bin }, attempts: 2, sleep: async () => {} }).catch((e) => e);
    expect(String(err)).toMatch(/Connection refused/);
    expect(err.kind).toBe("transient");
    expect(readFileSync(join(dir, "calls"), "utf8").trim().split("\n")).toHaveLength(2);
  });
});
