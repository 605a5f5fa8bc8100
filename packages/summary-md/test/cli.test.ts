import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError, UsageError } from "@slurmpipe/core";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { run, tempDir, writeNdjson } from "./helpers.ts";

const ok = (name: string) => JSON.stringify({ id: `id-${name}`, name, job: { id: "77" }, state: { state: "COMPLETED", category: "success", terminal: true } });

describe("bad input", () => {
  it("reports each bad line as source:line (with the field) and still summarizes the rest, exit 1", async () => {
    const dir = tempDir();
    const file = join(dir, "runs.ndjson");
    writeFileSync(file, [ok("a"), "{not json", JSON.stringify({ id: "x" }), JSON.stringify({ kind: "event", job_id: "1" }), ok("b"), ""].join("\n"));
    const { code, stdout, stderr } = await run({ inputs: [file], plots: false });
    expect(code).toBe(1);
    expect(stderr).toContain(`summary-md: error: ${file}:2: not JSON`);
    expect(stderr).toContain(`summary-md: error: ${file}:3: field "name"`);
    expect(stderr).toContain(`summary-md: error: ${file}:4: field "from"`);
    expect(stdout).toContain("| a | COMPLETED | 77 |");
    expect(stdout).toContain("| b | COMPLETED | 77 |");
  });

  it("--strict stops at the first bad line", async () => {
    await expect(run({ stdinText: `${ok("a")}\n{"id":"x"}\n`, strict: true, plots: false })).rejects.toBeInstanceOf(InputError);
  });

  it("bad lines in --expected are reported too", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "exp.ndjson"), `${ok("a")}\n[1]\n`);
    const { code, stderr, stdout } = await run({ stdinText: ok("a"), expected: "exp.ndjson", plots: false }, { cwd: dir });
    expect(code).toBe(1);
    expect(stderr).toContain("exp.ndjson:2: expected a JSON object");
    expect(stdout).toContain("1 of 1 completed");
  });

  it("skips records of other kinds (archive entries) without complaint", async () => {
    const { code, stdout } = await run({ stdinText: `${ok("a")}\n{"kind":"archive-entry","path":"x","size":1,"sha256":"${"0".repeat(64)}"}\n`, plots: false });
    expect(code).toBe(0);
    expect(stdout).toContain("1 runs");
  });
});

describe("usage errors", () => {
  it.each([
    [{ update: "x.md", output: "y.md" }, /cannot be combined with -o/],
    [{ update: "x.md", sample: true }, /cannot be combined with --update/],
    [{ margin: 0.5, sample: true }, /--margin/],
    [{ fullSteps: 10 }, /only apply with --sample/],
    [{ now: "yesterday" }, /--now/],
  ])("%o", async (options, message) => {
    await expect(run(options)).rejects.toThrow(message);
    await expect(run(options)).rejects.toBeInstanceOf(UsageError);
  });

  it("--update on a file that does not exist", async () => {
    await expect(run({ update: join(tempDir(), "nope.md") })).rejects.toThrow(/does not exist/);
  });
});

describe("merging records", () => {
  it("the last record for a run id wins, nested fields merge, a resubmission drops the old job's state", async () => {
    const lines = [
      { id: "r", name: "r", job: { id: "1" }, state: { state: "RUNNING", category: "active", terminal: false, started_at: "2025-01-01T00:00:00Z" } },
      { id: "r", name: "r", job: { id: "1" }, state: { state: "COMPLETED", category: "success", terminal: true, ended_at: "2025-01-01T01:00:00Z" } },
    ];
    const merged = await run({ stdinText: lines.map((l) => JSON.stringify(l)).join("\n"), plots: false });
    expect(merged.stdout).toContain("| r | COMPLETED | 1 | 2025-01-01 00:00:00 | 2025-01-01 01:00:00 | 01:00:00 |");
    const resubmitted = [...lines, { id: "r", name: "r", job: { id: "2", attempt: 2 } }];
    const again = await run({ stdinText: resubmitted.map((l) => JSON.stringify(l)).join("\n"), plots: false });
    expect(again.stdout).toContain("| r | UNKNOWN | 2 | - | - | - | - | not polled yet; attempt 2 |");
  });
});

const cli = join(import.meta.dirname, "..", "dist", "cli.mjs");
const built = existsSync(cli);
if (!built) process.stderr.write("skipping built-CLI tests: run `pnpm --filter @slurmpipe/summary-md build` first\n");

describe.skipIf(!built)("the built command", () => {
  it("exits 2 on a usage error and 1 on bad input, writing the report anyway", async () => {
    const usage = await execa("node", [cli, "--update", "a.md", "-o", "b.md"], { reject: false });
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain("cannot be combined");
    const bad = await execa("node", [cli, "--no-plots"], { input: `${ok("a")}\nnope\n`, reject: false });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain("stdin:2: not JSON");
    expect(bad.stdout).toContain("| a | COMPLETED | 77 |");
  });

  it("--help says the output is markdown, not NDJSON", async () => {
    const help = await execa("node", [cli, "--help"]);
    expect(help.stdout).toContain("summary-md is a sink");
    expect(help.stdout).toContain("--update");
  });

  it("exits quietly when the reader goes away (| head -1)", async () => {
    const records = Array.from({ length: 3000 }, (_, i) => ok(`run${i}`)).join("\n");
    const sub = execa("node", [cli, "--no-plots"], { input: records, reject: false });
    sub.stdout.once("data", () => sub.stdout.destroy());
    const r = await sub;
    expect(r.exitCode).toBe(0);
    expect(String(r.stderr)).not.toMatch(/EPIPE|Error/);
  });

  it("a process killed while writing --update leaves the old document (temp file + rename)", async () => {
    const prlimit = await execa("prlimit", ["--version"], { reject: false }).catch(() => undefined);
    if (prlimit?.exitCode !== 0) return void process.stderr.write("skipping kill-mid-write test: no prlimit\n");
    const dir = tempDir();
    const doc = join(dir, "experiment_summary.md");
    const original = `# exp\n\n${"filler line\n".repeat(2000)}`;
    writeFileSync(doc, original);
    const runs = Array.from({ length: 50 }, (_, i) => ({ id: `r${i}`, name: `run_${i}`, job: { id: String(1000 + i) }, state: { state: "RUNNING", category: "active", terminal: false } }));
    writeNdjson(join(dir, "in.ndjson"), runs);
    // A file-size limit below the document's size: the kernel kills the process (SIGXFSZ) mid-write.
    const r = await execa("prlimit", [`--fsize=${original.length - 100}`, "node", cli, "--update", doc, "in.ndjson"], { cwd: dir, reject: false });
    expect(r.exitCode === 0).toBe(false);
    expect(readFileSync(doc, "utf8")).toBe(original);
    // The same update without the limit goes through.
    const good = await execa("node", [cli, "--update", doc, "in.ndjson"], { cwd: dir, reject: false });
    expect(good.exitCode).toBe(0);
    expect(readFileSync(doc, "utf8")).toContain("| run_49 | RUNNING | 1049 |");
    expect(readdirSync(dir).filter((f) => f.startsWith(".experiment_summary.md") && f.endsWith(".tmp")).length).toBeLessThanOrEqual(1);
  });

  it("killed while writing through a symlink: the linked document stays whole, the link a link; then it updates", async () => {
    const prlimit = await execa("prlimit", ["--version"], { reject: false }).catch(() => undefined);
    if (prlimit?.exitCode !== 0) return void process.stderr.write("skipping kill-mid-write test: no prlimit\n");
    const dir = tempDir();
    mkdirSync(join(dir, "docs"));
    const target = join(dir, "docs", "summary.md");
    const original = `# exp\n\n${"filler line\n".repeat(2000)}`;
    writeFileSync(target, original);
    chmodSync(target, 0o640);
    symlinkSync("docs/summary.md", join(dir, "experiment_summary.md"));
    const runs = Array.from({ length: 50 }, (_, i) => ({ id: `r${i}`, name: `run_${i}`, job: { id: String(1000 + i) }, state: { state: "RUNNING", category: "active", terminal: false } }));
    writeNdjson(join(dir, "in.ndjson"), runs);
    const r = await execa("prlimit", [`--fsize=${original.length - 100}`, "node", cli, "--update", "experiment_summary.md", "in.ndjson"], { cwd: dir, reject: false });
    expect(r.exitCode === 0).toBe(false);
    expect(readFileSync(target, "utf8")).toBe(original);
    expect(readlinkSync(join(dir, "experiment_summary.md"))).toBe("docs/summary.md");
    const good = await execa("node", [cli, "--update", "experiment_summary.md", "in.ndjson"], { cwd: dir, reject: false });
    expect(good.exitCode).toBe(0);
    expect(readFileSync(target, "utf8")).toContain("| run_49 | RUNNING | 1049 |");
    expect(readlinkSync(join(dir, "experiment_summary.md"))).toBe("docs/summary.md");
    expect(statSync(target).mode & 0o777).toBe(0o640);
  });

  it("exit 1 for a read-only document, 2 for one that is not a file; each message names the file", async () => {
    const dir = tempDir();
    writeNdjson(join(dir, "in.ndjson"), [JSON.parse(ok("a"))]);
    writeFileSync(join(dir, "ro.md"), "# x\n");
    chmodSync(join(dir, "ro.md"), 0o444);
    const ro = await execa("node", [cli, "--update", "ro.md", "in.ndjson"], { cwd: dir, reject: false });
    expect(ro.exitCode).toBe(1);
    expect(ro.stderr).toContain(`summary-md: error: cannot write ${join(dir, "ro.md")}: the file is read-only (mode 0444)`);
    expect(readFileSync(join(dir, "ro.md"), "utf8")).toBe("# x\n");
    mkdirSync(join(dir, "adir.md"));
    const notFile = await execa("node", [cli, "--update", "adir.md", "in.ndjson"], { cwd: dir, reject: false });
    expect(notFile.exitCode).toBe(2);
    expect(notFile.stderr).toContain(`summary-md: --update: ${join(dir, "adir.md")} is a directory`);
  });
});
