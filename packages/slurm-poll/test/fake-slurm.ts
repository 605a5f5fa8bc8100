import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { createLogger, taggedJobName } from "@slurmpipe/core";
import { type CycleInfo, type PollOptions, poll } from "../src/poller.ts";
import { SACCT_FIELDS } from "../src/sacct.ts";

/**
 * A bin dir whose `squeue` and `sacct` log every call (calls.log) and then exec a fake that prints
 * what the test put in squeue.out / sacct.out (or fails like a dead controller when *.fail exists).
 */
export class FakeSlurm {
  readonly dir = mkdtempSync(join(tmpdir(), "sp-poll-bin-"));
  constructor() {
    for (const cmd of ["squeue", "sacct", "scancel"]) {
      const wrapper = join(this.dir, cmd);
      writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "${cmd} $*" >> "$(dirname "$0")/calls.log"\nexec "$(dirname "$0")/fake-${cmd}" "$@"\n`);
      const fake = join(this.dir, `fake-${cmd}`);
      const msg =
        cmd === "squeue"
          ? "slurm_load_jobs error: Unable to contact slurm controller (connect failure)"
          : cmd === "scancel"
            ? "scancel: error: Kill job error on job id 188: Unable to contact slurm controller (connect failure)"
            : "sacct: error: Problem talking to the database: Connection refused";
      writeFileSync(fake, `#!/bin/sh\nd="$(dirname "$0")"\nif [ -f "$d/${cmd}.fail" ]; then echo "${msg}" >&2; exit 1; fi\ncat "$d/${cmd}.out" 2>/dev/null\nexit 0\n`);
      chmodSync(wrapper, 0o755);
      chmodSync(fake, 0o755);
    }
    this.squeue([]);
    this.sacct([]);
  }
  squeue(lines: string[]): void {
    writeFileSync(join(this.dir, "squeue.out"), lines.map((l) => `${l}\n`).join(""));
  }
  sacct(lines: string[]): void {
    writeFileSync(join(this.dir, "sacct.out"), lines.map((l) => `${l}\n`).join(""));
  }
  fail(cmd: "squeue" | "sacct" | "scancel", on: boolean): void {
    const p = join(this.dir, `${cmd}.fail`);
    if (on) writeFileSync(p, "");
    else rmSync(p, { force: true });
  }
  calls(): string[] {
    try {
      return readFileSync(join(this.dir, "calls.log"), "utf8").split("\n").filter(Boolean);
    } catch {
      return [];
    }
  }
}

export const SUBMITTED = "2026-11-23T10:00:00.000Z";
export const slurmTime = (iso: string) => {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};

export function runId(i: number): string {
  return `${String(i).padStart(6, "0")}abcdef`;
}

export function record(i: number, jobId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const id = runId(i);
  return { id, name: `run${i}`, job: { id: jobId, name: taggedJobName(`run${i}`, id), submitted_at: SUBMITTED, attempt: 1 }, ...extra };
}

/** A squeue line in slurm-poll's field order. */
export function sq(jobId: string, i: number, state: string, over: { reason?: string; submit?: string; name?: string; raw?: string; dependency?: string } = {}): string {
  const [base, task] = jobId.split("_");
  const running = state !== "PENDING";
  return [
    jobId,
    over.raw ?? base,
    base,
    task ?? "N/A",
    state,
    over.reason ?? "None",
    running ? "0:05" : "0:00",
    "1:00:00",
    running ? "node1" : "",
    running ? slurmTime("2026-11-23T10:00:05.000Z") : "N/A",
    running ? "NONE" : "N/A",
    slurmTime(over.submit ?? SUBMITTED),
    "4000M",
    over.dependency ?? "(null)",
    over.name ?? taggedJobName(`run${i}`, runId(i)),
  ].join("|");
}

/** A sacct job line (and its batch step) in slurm-poll's field order. */
export function ac(jobId: string, i: number, state: string, exit = "0:0", over: { name?: string; submit?: string; elapsed?: string; reason?: string } = {}): string[] {
  const f: Record<string, string> = {
    JobID: jobId,
    JobIDRaw: jobId.split("_")[0]!,
    State: state,
    ExitCode: exit,
    Elapsed: over.elapsed ?? "00:00:07",
    Start: slurmTime("2026-11-23T10:00:05.000Z"),
    End: slurmTime("2026-11-23T10:00:12.000Z"),
    Submit: slurmTime(over.submit ?? SUBMITTED),
    ReqMem: "4000M",
    Timelimit: "01:00:00",
    NodeList: "node1",
    Reason: over.reason ?? "None",
    JobName: over.name ?? taggedJobName(`run${i}`, runId(i)),
  };
  const step: Record<string, string> = { ...f, JobID: `${jobId}.batch`, JobIDRaw: `${f.JobIDRaw}.batch`, MaxRSS: "2992K", ReqMem: "", Timelimit: "", Reason: "", JobName: "batch" };
  return [f, step].map((x) => SACCT_FIELDS.map((k) => x[k] ?? "").join("|"));
}

export interface PollRun {
  code: number;
  out: Record<string, unknown>[];
  err: string;
  cycles: CycleInfo[];
}

/** Runs poll in-process against the fake bin dir. */
export async function runPoll(
  fake: FakeSlurm,
  state: string,
  input: string | PassThrough | null,
  over: Partial<PollOptions> = {},
): Promise<PollRun> {
  let outText = "";
  let err = "";
  const stdout = new Writable({
    write: (c, _e, cb) => {
      outText += String(c);
      cb();
    },
  });
  const stderr = new Writable({
    write: (c, _e, cb) => {
      err += String(c);
      cb();
    },
  });
  const cycles: CycleInfo[] = [];
  let stdin: PollOptions["stdin"] = null;
  if (typeof input === "string") {
    const s = new PassThrough();
    s.end(input);
    stdin = s;
  } else if (input) stdin = input;
  const code = await poll({
    state,
    ledger: false,
    stdin,
    stdout,
    stderr,
    log: createLogger("slurm-poll", { stderr }),
    cwd: state,
    intervalMs: 10,
    maxBackoffMs: 40,
    once: false,
    slurm: { binDir: fake.dir },
    ...over,
    onCycle: (info) => {
      cycles.push(info);
      over.onCycle?.(info);
    },
  });
  const out = outText.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, out, err, cycles };
}

export const ndjson = (records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join("");
