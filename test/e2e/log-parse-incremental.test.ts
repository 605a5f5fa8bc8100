import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { shell } from "./support/summary-pipeline.ts";
import { backends, cancelOwn, ensureBin, readRecords, scratch } from "./support/recipe.ts";

// Issue #15, "Incremental": the cron recipe's `slurm-poll --once --state S | log-parse --state S |
// summary-md --update ...`, tick after tick while a job writes its log, reads only the bytes the
// job wrote since the last tick (log-parse -v says how many it read), and every tick's reports
// equal those of a log-parse without --state on the same records.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const READ = /state: read (\d+) bytes of (\d+) in (\d+) logs \((\d+) went on from their state, (\d+) from the start; (\d+) bytes hashed\)/;

for (const backend of backends().filter((b) => b.name === "local")) {
  backend.describe("cron tick: log-parse --state reads only new bytes (local)", () => {
    const s = scratch("lp-incremental");
    const env = () => ({ ...s.env, BACKEND: backend.name });

    beforeAll(async () => {
      await ensureBin();
      // Bursts of loss lines with pauses between them (the ticks compare while the log stands
      // still), an unfinished line at the end of each burst, a traceback split over two bursts.
      writeFileSync(
        join(s.dir, "job.sh"),
        [
          "for i in $(seq 1 4); do",
          "  for j in $(seq 1 25); do echo \"iter $((i*100+j)): loss 3.$((99-i*5-j/5)), time 100.0ms\"; done",
          "  printf 'iter %d: loss 1.' $((i*100+99)); sleep 4; echo '5, time 1ms'",
          "done",
          "printf 'Traceback (most recent call last):\\n  File \"train.py\", line 9, in <module>\\n' >&2; sleep 1.5",
          "echo 'RuntimeError: boom' >&2; exit 1",
          "",
        ].join("\n"),
      );
      writeFileSync(join(s.dir, "sweep.yaml"), `command: [bash, "${join(s.dir, "job.sh")}"]\nname: "incr1"\ndir: runs\n`);
      await shell("sweep-gen sweep.yaml | slurm-render --profile local --out scripts/ | slurm-submit --backend local --state .slurmpipe > submitted.ndjson", s.dir, env());
      await shell("summary-md -o STATUS.md submitted.ndjson", s.dir, env());
    });
    afterAll(async () => {
      await cancelOwn(join(s.dir, ".slurmpipe"), "local", s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("each tick reads what was appended (plus the unfinished last line), and reports as a full parse", async () => {
      const ticks: { bytes: number; total: number; resumed: number; fromStart: number; hashed: number }[] = [];
      let sizes: number[] = [];
      let done = false;
      let compared = 0;
      const logs = join(s.dir, "scripts/incr1/logs");
      const logSizes = () => (existsSync(logs) ? readdirSync(logs).map((f) => `${f}:${statSync(join(logs, f)).size}`) : []);
      for (let i = 0; i < 40 && !done; i++) {
        const before = JSON.stringify(logSizes());
        const r = await shell(
          "slurm-poll --backend local --once --state .slurmpipe > polled.ndjson || true # 3: still running, 1: it failed\n" +
            "log-parse --state .slurmpipe -v < polled.ndjson 2> lp.err | tee parsed.ndjson | summary-md --update STATUS.md\n" +
            "log-parse < polled.ndjson > full.ndjson",
          s.dir,
          env(),
        );
        expect(r.stderr).not.toMatch(/warning|error/);
        const incremental = readRecords(join(s.dir, "parsed.ndjson"));
        const full = readRecords(join(s.dir, "full.ndjson")).filter((x) => x.kind === "run");
        // The job writes on while the two parse: compared when the logs did not change in between.
        if (JSON.stringify(logSizes()) === before) {
          expect(incremental.filter((x) => x.kind === "run").map((x) => x.report)).toEqual(full.map((x) => x.report));
          compared += 1;
        }
        const m = READ.exec(readFileSync(join(s.dir, "lp.err"), "utf8"));
        expect(m, readFileSync(join(s.dir, "lp.err"), "utf8")).not.toBeNull();
        const files = ((full[0]!.report as { files?: { path: string; role: string; exists: boolean }[] }).files ?? []).filter((f) => f.exists && f.role !== "metrics");
        const now = files.map((f) => statSync(f.path).size);
        ticks.push({ bytes: Number(m![1]), total: Number(m![2]), resumed: Number(m![4]), fromStart: Number(m![5]), hashed: Number(m![6]) });
        const t = ticks.at(-1)!;
        if (t.resumed > 0 && sizes.length === now.length) {
          // What the job wrote to stdout since the last tick, the unfinished line, and stderr (read
          // again from the start when stdout changed: its state was built on stdout's).
          const grown = now[0]! - sizes[0]!;
          expect(t.bytes - t.hashed).toBeLessThanOrEqual(grown + 4096 + (now[1] ?? 0));
        }
        sizes = now;
        done = (full[0]!.state as { terminal?: boolean } | undefined)?.terminal === true;
        if (!done) await sleep(400);
      }
      expect(done, JSON.stringify(ticks)).toBe(true);
      expect(compared, JSON.stringify(ticks)).toBeGreaterThanOrEqual(2);
      // The job wrote its log over several ticks, and the ticks went on from their state.
      const resumedTicks = ticks.filter((t) => t.resumed > 0 && t.bytes - t.hashed < t.total);
      expect(resumedTicks.length, JSON.stringify(ticks)).toBeGreaterThanOrEqual(2);
      // Scanned (hashing the first and last 4 KiB of each log aside): far less than a full read each tick.
      const read = ticks.reduce((a, t) => a + t.bytes - t.hashed, 0);
      const everything = ticks.reduce((a, t) => a + t.total, 0);
      expect(read, JSON.stringify(ticks)).toBeLessThan(everything / 2);
      for (const t of ticks) expect(t.hashed).toBeLessThanOrEqual(2 * 4 * 4096);
      expect(readFileSync(join(s.dir, "STATUS.md"), "utf8")).toMatch(/\| incr1 \| FAILED \|/);
      const last = readRecords(join(s.dir, "parsed.ndjson")).find((x) => x.kind === "run")!.report as { failures: { class: string }[]; loss: { points: number } };
      expect(last.failures.map((f) => f.class)).toContain("PYTHON_EXCEPTION");
      expect(last.loss.points).toBe(4 * 26);
    });
  });
}
