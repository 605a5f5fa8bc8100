import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SlurmCommandError, classifySlurmError, runSlurm } from "../src/index.ts";

/** A fake Slurm command that fails `failures` times with `message`, then succeeds; counts calls. */
function fakeBin(name: string, failures: number, message: string, exit = 1): { dir: string; calls: () => number } {
  const dir = mkdtempSync(join(tmpdir(), "sp-runner-"));
  const counter = join(dir, "calls");
  writeFileSync(counter, "0");
  writeFileSync(
    join(dir, name),
    `#!/bin/bash\nn=$(( $(cat ${counter}) + 1 )); echo $n > ${counter}\nif [ $n -le ${failures} ]; then echo "${message}" >&2; exit ${exit}; fi\necho "ok $*"; env | grep -c '^SQUEUE_FORMAT=' >&2 || true\n`,
  );
  chmodSync(join(dir, name), 0o755);
  return { dir, calls: () => Number(readFileSync(counter, "utf8")) };
}
const noSleep = { sleep: async () => {}, random: () => 0.5 };

describe("runSlurm", () => {
  it("retries transient failures with backoff and succeeds", async () => {
    const bin = fakeBin("squeue", 2, "slurm_load_jobs error: Socket timed out on send/recv operation");
    const delays: number[] = [];
    const r = await runSlurm("squeue", ["-h"], { binDir: bin.dir, ...noSleep, onRetry: (i) => delays.push(i.delayMs) });
    expect(r.stdout).toBe("ok -h\n");
    expect(r.attempts).toBe(3);
    expect(bin.calls()).toBe(3);
    expect(delays[1]!).toBeGreaterThan(delays[0]!);
  });
  it("gives up after the attempt budget", async () => {
    const bin = fakeBin("squeue", 10, "slurm_load_jobs error: Unable to contact slurm controller (connect failure)");
    await expect(runSlurm("squeue", [], { binDir: bin.dir, attempts: 3, ...noSleep })).rejects.toMatchObject({ kind: "transient", attempts: 3 });
    expect(bin.calls()).toBe(3);
  });
  it("does not retry permanent failures", async () => {
    const bin = fakeBin("sbatch", 10, "sbatch: error: Batch job submission failed: Invalid partition name specified");
    const err = await runSlurm("sbatch", ["x.sh"], { binDir: bin.dir, ...noSleep }).catch((e) => e);
    expect(err).toBeInstanceOf(SlurmCommandError);
    expect(err.kind).toBe("permanent");
    expect(bin.calls()).toBe(1);
  });
  it("clears environment variables that change Slurm's output", async () => {
    const bin = fakeBin("squeue", 0, "");
    process.env.SQUEUE_FORMAT = "%i";
    try {
      const r = await runSlurm("squeue", [], { binDir: bin.dir });
      expect(r.stderr.trim()).toBe("0");
    } finally {
      delete process.env.SQUEUE_FORMAT;
    }
  });
  it("says clearly when the command is missing", async () => {
    await expect(runSlurm("sbatch", [], { binDir: "/nonexistent" })).rejects.toMatchObject({ kind: "missing" });
  });
  it("times out a hung command and treats it as transient", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-runner-"));
    writeFileSync(join(dir, "sacct"), "#!/bin/bash\nsleep 5\n");
    chmodSync(join(dir, "sacct"), 0o755);
    await expect(runSlurm("sacct", [], { binDir: dir, timeoutMs: 200, attempts: 2, ...noSleep })).rejects.toMatchObject({ kind: "timeout", attempts: 2 });
  });
});

describe("classifySlurmError", () => {
  it.each([
    ["sbatch: error: Batch job submission failed: Socket timed out on send/recv operation", "transient"],
    ["sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)", "transient"],
    ["sbatch: error: Batch job submission failed: Resource temporarily unavailable", "transient"],
    ["sacct: error: slurm_persist_conn_open_without_init: failed to open persistent connection to host:localhost:6997: Connection refused", "transient"],
    ["sbatch: error: QOSMaxSubmitJobPerUserLimit\nsbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)", "qos_limit"],
    ["sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified", "permanent"],
    ["sbatch: error: invalid partition specified: nosuch", "permanent"],
    ["slurm_load_jobs error: Invalid job id specified", "not_found"],
    ["something new", "other"],
  ])("%s -> %s", (text, kind) => {
    expect(classifySlurmError(text)).toBe(kind);
  });
});
