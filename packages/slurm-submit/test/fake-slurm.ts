import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { type Logger, createLogger } from "@slurmpipe/core";
import { type Clock, type SubmitOptions, submit } from "../src/index.ts";

/**
 * A fake Slurm in a temp bin dir: sbatch/squeue/sacct/scontrol as bash scripts over a jobs file
 * (`id|name|state|submit|where`, where = both | squeue | sacct, to play "purged from slurmctld" and
 * "sacct lags"). `modes` holds one sbatch behaviour per line, consumed in order:
 *   ok · timeout-after-create · timeout-no-create · invalid-partition · qos · garbage
 */
export interface FakeJob {
  id: string;
  name: string;
  state: string;
  submit?: string;
  where?: "both" | "squeue" | "sacct";
}

export class FakeSlurm {
  readonly dir: string;
  readonly bin: string;
  readonly work: string;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "sp-submit-"));
    this.bin = join(this.dir, "bin");
    this.work = join(this.dir, "work");
    mkdirSync(this.bin);
    mkdirSync(this.work);
    for (const name of ["sbatch", "squeue", "sacct", "scontrol"]) {
      const p = join(this.bin, name);
      const text = readFileSync(new URL(`./fixtures/fake-${name}.sh`, import.meta.url), "utf8");
      writeFileSync(p, text.replaceAll("__DIR__", JSON.stringify(this.dir)));
      chmodSync(p, 0o755);
    }
  }

  modes(...list: string[]): void {
    writeFileSync(join(this.dir, "modes"), list.map((m) => `${m}\n`).join(""));
  }

  calls(command?: string): string[] {
    const p = join(this.dir, "calls");
    const all = existsSync(p) ? readFileSync(p, "utf8").split("\n").filter(Boolean) : [];
    return command ? all.filter((c) => c.startsWith(`${command} `)) : all;
  }

  jobs(): FakeJob[] {
    const p = join(this.dir, "jobs");
    if (!existsSync(p)) return [];
    return readFileSync(p, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [id, name, state, submit, where] = l.split("|");
        return { id: id!, name: name!, state: state!, submit: submit!, where: where as FakeJob["where"] };
      });
  }

  setJobs(jobs: FakeJob[]): void {
    writeFileSync(
      join(this.dir, "jobs"),
      jobs.map((j) => `${j.id}|${j.name}|${j.state}|${j.submit ?? "2026-01-01T00:00:00"}|${j.where ?? "both"}\n`).join(""),
    );
  }

  flag(name: "squeue-fail" | "sacct-fail", on = true): void {
    const p = join(this.dir, name);
    if (on) writeFileSync(p, "");
    else rmSync(p, { force: true });
  }

  /** Writes a tiny sbatch script and returns a run record for it. */
  run(n: number | string, extra: Record<string, unknown> = {}, scriptText?: string): Record<string, unknown> {
    const name = `run${n}`;
    const dir = join(this.work, name);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "job.sbatch");
    writeFileSync(path, scriptText ?? "#!/bin/bash\n#SBATCH -o out.txt\ntrue\n");
    return { id: `${String(n).padStart(4, "0")}aaaabbbbcccc`, name, script: { path }, ...extra };
  }

  get state(): string {
    return join(this.dir, "state");
  }

  ledger(): Record<string, unknown>[] {
    const p = join(this.state, "ledger.ndjson");
    if (!existsSync(p)) return [];
    return readFileSync(p, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }
}

/** A clock whose sleeps return at once and advance time. */
export class FakeClock implements Clock {
  t = Date.parse("2026-11-23T12:00:00Z");
  sleeps: number[] = [];
  onSleep?: (ms: number) => void;
  now = () => this.t;
  sleep = async (ms: number) => {
    this.sleeps.push(ms);
    this.t += ms;
    this.onSleep?.(ms);
  };
  random = () => 0.5;
}

export interface Result {
  code: number;
  records: Record<string, unknown>[];
  stderr: string;
}

function logger(sink: PassThrough): Logger {
  return createLogger("slurm-submit", { stderr: sink as unknown as NodeJS.WritableStream, env: { NO_COLOR: "1" }, verbose: true });
}

/** Runs the library in-process with records on stdin. */
export async function runSubmit(fake: FakeSlurm, input: (Record<string, unknown> | string)[], options: Partial<SubmitOptions> = {}): Promise<Result> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const text = input.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join("\n") + "\n";
  const { code } = await submit({
    stdin: Readable.from([Buffer.from(text)]),
    stdout,
    stderr,
    log: logger(stderr),
    cwd: fake.work,
    stateDir: fake.state,
    clock: new FakeClock(),
    confirmDelayMs: 0,
    backoffMs: 1,
    client: { binDir: fake.bin, attempts: 1 },
    ...options,
  });
  const records = Buffer.concat(out)
    .toString("utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, records, stderr: Buffer.concat(err).toString("utf8") };
}
