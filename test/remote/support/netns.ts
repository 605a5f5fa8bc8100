import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type ResultPromise, execa } from "execa";

/**
 * A network namespace of the test's own, joined to this one by a veth pair with private
 * addresses (10.254.<n>.1 here, 10.254.<n>.2 inside), so a fault can be made on the inside
 * without touching any interface, route or firewall of the machine. What runs inside reaches the
 * private Slurm's slurmctld and slurmdbd through a forwarder on the namespace's own 127.0.0.1.
 *
 * `drop()` makes a hanging connection, not a refused one: a blackhole route inside the namespace
 * for the outside address, so every packet the inside sends back (SYN-ACKs, sshd's replies, TCP
 * ACKs) is discarded silently; no RST, no ICMP reaches the client, which sees only silence. (Not
 * netem or iptables: this kernel has no sch_netem, and the machine no iptables/nft binary.)
 */
export interface Netns {
  name: string;
  /** This side's address (the client's, as sshd sees it). */
  outside: string;
  /** The inside address: where sshd listens. */
  inside: string;
  drop: () => Promise<void>;
  undrop: () => Promise<void>;
  remove: () => Promise<void>;
}

/** Why a namespace cannot be made here (not root, no `ip`), or undefined. */
export async function netnsMissing(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "network namespaces need root";
  const ip = await execa("ip", ["-V"], { reject: false });
  if (ip.exitCode !== 0) return `no usable ip command (iproute2): ${ip.stderr || ip.message}`;
  return undefined;
}

const FORWARD = fileURLToPath(new URL("./forward.mjs", import.meta.url));

/** The private Slurm's slurmctld and slurmdbd ports, from $SLURM_CONF. */
export function slurmPorts(): number[] {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: the private Slurm's (slurm-dev env), not a build input
  const conf = readFileSync(process.env.SLURM_CONF ?? "/etc/slurm/slurm.conf", "utf8");
  const port = (key: string, fallback: number) => Number(new RegExp(`^${key}=(\\d+)`, "mi").exec(conf)?.[1] ?? fallback);
  return [port("SlurmctldPort", 6817), port("AccountingStoragePort", 6819)];
}

export async function makeNetns(): Promise<Netns> {
  const n = process.pid % 250;
  const name = `spfault${process.pid}`;
  // Interface names: at most 15 bytes.
  const [out, inn] = [`spfo${process.pid % 100000}`, `spfi${process.pid % 100000}`];
  const outside = `10.254.${n}.1`;
  const inside = `10.254.${n}.2`;
  const ip = (...args: string[]) => execa("ip", args);
  const inNs = (...args: string[]) => execa("ip", ["netns", "exec", name, ...args]);
  await execa("ip", ["netns", "del", name], { reject: false }); // a leftover of a killed run
  await ip("netns", "add", name);
  let forwarder: ResultPromise | undefined;
  const remove = async () => {
    forwarder?.kill("SIGKILL");
    await forwarder;
    // Deleting the namespace deletes its end of the veth pair, and with it this end.
    await execa("ip", ["netns", "del", name], { reject: false });
    await execa("ip", ["link", "del", out], { reject: false });
  };
  try {
    await ip("link", "add", out, "type", "veth", "peer", "name", inn);
    await ip("link", "set", inn, "netns", name);
    await ip("addr", "add", `${outside}/24`, "dev", out);
    await ip("link", "set", out, "up");
    await inNs("ip", "addr", "add", `${inside}/24`, "dev", inn);
    await inNs("ip", "link", "set", inn, "up");
    await inNs("ip", "link", "set", "lo", "up");
    const ports = slurmPorts();
    forwarder = execa("ip", ["netns", "exec", name, process.execPath, FORWARD, "127.0.0.1", outside, ...ports.map(String)], { reject: false, stdin: "ignore" });
    const deadline = Date.now() + 10_000;
    let said = "";
    forwarder.stdout?.on("data", (d: Buffer) => {
      said += d.toString();
    });
    while ((said.match(/listening/g) ?? []).length < ports.length) {
      if (Date.now() > deadline || forwarder.exitCode !== null) throw new Error(`the forwarder in ${name} did not start: ${said}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await remove();
    throw e;
  }
  return {
    name,
    outside,
    inside,
    drop: async () => {
      await inNs("ip", "route", "add", "blackhole", `${outside}/32`);
    },
    undrop: async () => {
      await inNs("ip", "route", "del", "blackhole", `${outside}/32`);
    },
    remove,
  };
}
