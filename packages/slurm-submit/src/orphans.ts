import { readFile, readdir } from "node:fs/promises";

/**
 * A slurm-submit killed with -9 does not take its sbatch child with it: the orphan may still
 * create the job after the next slurm-submit has looked for it and found nothing. So before
 * reconciling, we look for live processes whose argv carries `--job-name=<tag>` and wait for them.
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
        const tag = wanted.get(arg);
        if (tag) live.set(tag, [...(live.get(tag) ?? []), pid]);
      }
    }),
  );
  return live;
}

export function procAvailable(): Promise<boolean> {
  return readdir("/proc").then(
    (l) => l.includes("self"),
    () => false,
  );
}
