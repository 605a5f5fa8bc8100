/**
 * The start queue and the slots of the job runners of one machine (runner-process.ts): which
 * eligible job may start now. Node builtins only: bundled into the runner's text.
 */
import fs from "node:fs";
import path from "node:path";

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** The queue and slot operations of one runner, on `<dir>/queue` and `<dir>/slots`. */
export function runnerQueue(dir: string, maxParallel: number) {
  const slotDir = path.join(dir, "slots");
  fs.mkdirSync(slotDir, { recursive: true });
  // The FIFO of eligible waiting jobs of this machine, shared by every runner (see queue in store.ts):
  // queue/<raw id, zero-padded> holding the pid of the runner that waits for it. A runner starts a
  // job only while fewer live entries are ahead of it than slots are free, so jobs start in
  // submission order across sbatch calls, and no runner reads another runner's job files.
  const queueDir = path.join(dir, "queue");
  fs.mkdirSync(queueDir, { recursive: true });
  const QUEUE_PAD = 12;
  const entryName = (id: number) => String(id).padStart(QUEUE_PAD, "0");
  const queued = new Set<number>(); // our raw ids that have an entry
  const entryPids = new Map<string, number>(); // entry name -> runner pid (an entry's pid never changes)
  function enqueue(id: number): void {
    if (queued.has(id)) return;
    const p = path.join(queueDir, entryName(id));
    if (!fs.existsSync(p)) {
      const t = p + "." + process.pid + ".tmp";
      fs.writeFileSync(t, String(process.pid));
      fs.renameSync(t, p);
    }
    queued.add(id);
  }
  function dequeue(id: number): void {
    try {
      fs.unlinkSync(path.join(queueDir, entryName(id)));
    } catch {}
    queued.delete(id);
  }
  process.on("exit", () => {
    for (const id of queued) {
      try {
        fs.unlinkSync(path.join(queueDir, entryName(id)));
      } catch {}
    }
  });
  /** Live queue entries in order (entries of dead runners are removed); read once per pass. */
  function liveQueue(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(queueDir);
    } catch {
      return [];
    }
    const live: string[] = [];
    for (const name of names.filter((n) => /^\d+$/.test(n)).sort()) {
      let pid = entryPids.get(name);
      if (pid === undefined) {
        try {
          pid = Number(fs.readFileSync(path.join(queueDir, name), "utf8").trim()) || 0;
        } catch {
          continue;
        }
        entryPids.set(name, pid);
      }
      if (pid && pid !== process.pid && !alive(pid)) {
        try {
          fs.unlinkSync(path.join(queueDir, name));
        } catch {}
        entryPids.delete(name);
        continue;
      }
      live.push(name);
    }
    return live;
  }
  /** Slots not held by a live job. */
  function freeSlots(): number {
    let free = 0;
    for (let k = 0; k < maxParallel; k++) {
      const p = path.join(slotDir, String(k));
      let holder: number;
      try {
        holder = Number(fs.readFileSync(p, "utf8").trim() || 0);
      } catch {
        free++;
        continue;
      }
      if (holder && !alive(holder)) free++;
    }
    return free;
  }
  function tryAcquireSlot(): string | undefined {
    for (let k = 0; k < maxParallel; k++) {
      const p = path.join(slotDir, String(k));
      try {
        fs.writeFileSync(p, String(process.pid), { flag: "wx" });
        return p;
      } catch {
        const holder = Number(fs.readFileSync(p, "utf8").trim() || 0);
        if (holder && !alive(holder)) {
          try {
            fs.unlinkSync(p);
          } catch {}
          k--;
        }
      }
    }
    return undefined;
  }
  return { enqueue, dequeue, liveQueue, freeSlots, tryAcquireSlot, entryName };
}
