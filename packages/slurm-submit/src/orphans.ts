import { readFile, readdir } from "node:fs/promises";
import { type Logger, shellQuote } from "@slurmpipe/core";
import { type IntentEntry, extras } from "./ledger-view.ts";
import type { Clock } from "./pacer.ts";

/**
 * A slurm-submit killed with -9 does not take its sbatch child with it: the orphan may still
 * create the job after the next slurm-submit has looked for it and found nothing. So before
 * reconciling, we look for live processes whose argv carries `--job-name=<tag>` and wait for them.
 * With --remote the orphan is the local ssh running the remote sbatch (it lives until the remote
 * command ends): its argv carries the tag as a word of the remote command line it sends.
 * Linux /proc only; elsewhere (or for an intent written on another host) the caller falls back to
 * waiting until the intent is old enough.
 */
export async function liveSbatchFor(tags: readonly string[], selfPid = process.pid): Promise<Map<string, number[]> | undefined> {
  let pids: string[];
  try {
    pids = (await readdir("/proc")).filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  const wanted = new Map(tags.map((t) => [`--job-name=${t}`, t]));
  // The same word as remoteCommandLine quotes it (tags are safe words: quoting leaves them bare).
  const quoted = new Map(tags.map((t) => [shellQuote(`--job-name=${t}`, { posix: true }), t]));
  const live = new Map<string, number[]>();
  await Promise.all(
    pids.map(async (p) => {
      const pid = Number(p);
      if (pid === selfPid) return;
      let cmdline: string;
      try {
        cmdline = await readFile(`/proc/${p}/cmdline`, "utf8");
      } catch {
        return; // exited meanwhile, or not ours to read
      }
      if (!cmdline.includes("--job-name=")) return;
      for (const arg of cmdline.split("\0")) {
        const found = wanted.has(arg) ? [wanted.get(arg)!] : arg.includes(" ") ? arg.split(" ").flatMap((w) => (quoted.has(w) ? [quoted.get(w)!] : [])) : [];
        for (const tag of new Set(found)) live.set(tag, [...(live.get(tag) ?? []), pid]);
      }
    }),
  );
  return live;
}

export interface OrphanWait {
  /** This host: an intent written elsewhere has an sbatch we cannot see. */
  host: string;
  maxWaitMs: number;
  clock: Clock;
  log: Logger;
}

/**
 * An sbatch started by a killed slurm-submit may still be running and create the job after we
 * looked. Wait for such processes (found by the tag in their argv) before looking.
 */
export async function waitForOrphans(intents: IntentEntry[], { host: me, maxWaitMs: maxWait, clock, log }: OrphanWait): Promise<void> {
  const deadline = clock.now() + maxWait;
  const remote = intents.filter((e) => extras(e).host !== undefined && extras(e).host !== me);
  for (const e of remote) {
    // Written on another host: its sbatch cannot be seen from here; wait until it must be over.
    const until = Date.parse(e.at) + maxWait;
    if (until > clock.now()) {
      log.info(`intent for ${e.job_name} was written on ${extras(e).host}; waiting ${Math.ceil((until - clock.now()) / 1000)} s for its sbatch to finish`);
      await clock.sleep(until - clock.now());
    }
  }
  const tags = intents.filter((e) => !remote.includes(e)).map((e) => e.job_name);
  if (tags.length === 0) return;
  let warned = false;
  for (;;) {
    const live = await liveSbatchFor(tags);
    if (!live || live.size === 0) return;
    if (clock.now() >= deadline) {
      throw new Error(`sbatch for ${[...live.keys()].join(", ")} still running (pid ${[...live.values()].flat().join(", ")}) after ${maxWait / 1000} s; try again later`);
    }
    if (!warned) log.info(`waiting for ${live.size} sbatch process(es) left by an interrupted run`);
    warned = true;
    await clock.sleep(250);
  }
}

export function procAvailable(): Promise<boolean> {
  return readdir("/proc").then(
    (l) => l.includes("self"),
    () => false,
  );
}
