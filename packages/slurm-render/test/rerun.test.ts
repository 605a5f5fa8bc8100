// Issue #14 items 7-10: flags vs the record's resources, rendered_with, never rewriting a
// submitted script, values validated always.
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { type RenderCliArgs, optionsFromArgs, renderOptions } from "../src/cli-options.ts";
import { RESOURCE_KEYS, RESOURCE_OPTIONS } from "../src/directives.ts";
import type { Overrides } from "../src/resolve.ts";
import { renderRecords, run, tempDir } from "./helpers.ts";

const TRAIN = ["python", "train.py", "lr=0.1"];
type Script = { path: string; sha256: string; rendered_with: { profile: string; args: string[] }; array?: { table: string } };
const scriptOf = (rec: Record<string, unknown>) => rec.script as Script;

describe("command-line flags vs the record's resources (item 7)", () => {
  it("a flag wins and every different record value is said on stderr: one line per flag, with the count and an example", async () => {
    const cwd = tempDir();
    const input = [
      run("a", TRAIN, { resources: { mem: "38G", time: "02:00:00" } }),
      run("b", TRAIN, { resources: { mem: "40G", time: "120" } }),
      run("c", TRAIN, { resources: { mem: "512M" } }),
      run("d", TRAIN),
    ];
    const r = await renderRecords(input, { cwd, overrides: { resources: { mem: "512M", time: "02:00:00" } } });
    expect(r.code).toBe(0);
    for (const rec of r.records) expect(readFileSync(scriptOf(rec).path, "utf8")).toContain("#SBATCH --mem=512M\n");
    const lines = r.stderr.split("\n").filter((l) => l.includes("replaced"));
    // "120" minutes is 02:00:00: the same request, no warning for --time.
    expect(lines).toEqual([
      "slurm-render: warning: --mem 512M replaced resources.mem of 2 record(s) that had another value (e.g. run a: 38G); command-line flags win over the record's resources",
    ]);
  });

  it("no warning when the flag asks for what the record has", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("a", TRAIN, { resources: { mem: "38G", gpus_per_node: 2 } })], { cwd, overrides: { resources: { mem: "38912M", gpus_per_node: 2 } } });
    expect(r.stderr).not.toMatch(/replaced/);
  });

  it("every resources key has a flag (--k, _ written -) and a directive", () => {
    const flags = optionNames();
    for (const k of RESOURCE_KEYS) {
      expect(flags, k).toContain(k.replace(/_/g, "-"));
      expect(RESOURCE_OPTIONS[k], k).toBe(`--${k.replace(/_/g, "-")}`);
    }
    // core's Resources keys are all among them
    for (const k of ["account", "partition", "qos", "nodes", "ntasks_per_node", "gpus_per_node", "cpus_per_task", "mem", "time", "constraint", "exclude"]) expect(RESOURCE_KEYS).toContain(k);
  });
});

/** The option names renderOptions declares, read through a stand-in parser that records them. */
function optionNames(): string[] {
  const names: string[] = [];
  const parser: unknown = new Proxy(
    {},
    {
      get: (_t, method) => (...args: unknown[]) => {
        if (method === "option") names.push(String(args[0]));
        if (method === "options") names.push(...Object.keys(args[0] as object));
        return parser;
      },
    },
  );
  renderOptions(parser as Parameters<typeof renderOptions>[0]);
  return names;
}

/** `--name=value` / `--name` words (what rendered_with.args holds) as yargs hands them to optionsFromArgs. */
function parseArgs(args: string[]): RenderCliArgs {
  const out: Record<string, unknown> = { _: [] };
  for (const a of args) {
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(a);
    if (!m) throw new Error(`not an option: ${a}`);
    const value = m[2] ?? true;
    const prev = out[m[1]!];
    out[m[1]!] = prev === undefined ? value : [prev, value].flat();
  }
  return { profile: "generic", out: "runs", sample: false, array: false, check: false, strict: false, quiet: false, verbose: false, ...out } as RenderCliArgs;
}

describe("script.rendered_with (item 8)", () => {
  it("every rendered record says how it was rendered; the args render the same scripts again, from another directory", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "site.yaml"), "extends: lumi\nresources: {partition: small-g}\n");
    const overrides: Overrides = {
      resources: { account: "project_1", mem: "8G", time: "01:00:00", gpus_per_node: 2 },
      extra: ["--exclusive"],
      env: { A: "x y" },
      setup: ["ulimit -c 0"],
      venv: "venv",
      container: "/appl/local/c.sif",
      binds: ["/users/me/code"],
      requeueOnSignal: 600,
    };
    const opts = { cwd, profile: "./site.yaml", out: "out", overrides };
    const first = await renderRecords([run("a", TRAIN), run("b", [...TRAIN, "x=$(y)"])], opts);
    expect(first.code).toBe(0);
    const how = scriptOf(first.records[0]!).rendered_with;
    expect(how.profile).toBe(join(cwd, "site.yaml"));
    expect(how.args).toEqual([
      `--profile=${join(cwd, "site.yaml")}`,
      `--out=${join(cwd, "out")}`,
      "--account=project_1",
      "--gpus-per-node=2",
      "--mem=8G",
      "--time=01:00:00",
      "--directive=--exclusive",
      "--env=A=x y",
      "--setup=ulimit -c 0",
      "--venv=venv",
      "--container=/appl/local/c.sif",
      "--bind=/users/me/code",
      "--requeue-on-signal=600",
    ]);
    expect(scriptOf(first.records[1]!).rendered_with).toEqual(how);
    const texts = first.records.map((rec) => readFileSync(scriptOf(rec).path, "utf8"));
    rmSync(join(cwd, "out"), { recursive: true });

    const { inputs: _i, quiet: _q, verbose: _v, ...again } = optionsFromArgs(parseArgs(how.args));
    const elsewhere = tempDir();
    const second = await renderRecords([run("a", TRAIN), run("b", [...TRAIN, "x=$(y)"])], { ...again, cwd: elsewhere });
    expect(second.records).toEqual(first.records);
    expect(second.records.map((rec) => readFileSync(scriptOf(rec).path, "utf8"))).toEqual(texts);
  });

  it("array members and samples carry it too; a bare --requeue-on-signal stays bare", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("a", TRAIN, { group: "g" }), run("b", TRAIN, { group: "g" })], {
      cwd,
      array: true,
      arrayLimit: 1,
      sample: true,
      check: true,
      overrides: { sampleOverrides: ["max_steps=1"], requeueOnSignal: true },
    });
    expect(r.code).toBe(0);
    for (const rec of r.records) {
      expect(scriptOf(rec).rendered_with.args).toEqual([
        "--profile=generic",
        `--out=${join(cwd, "runs")}`,
        "--sample",
        "--sample-override=max_steps=1",
        "--requeue-on-signal=",
        "--array",
        "--array-limit=1",
        "--check",
      ]);
    }
  });
});

describe("a script is never rewritten (item 9)", () => {
  it("a changed run gets a new file beside the old one, named by its content; the old one stays byte for byte", async () => {
    const cwd = tempDir();
    const first = await renderRecords([run("a", TRAIN)], { cwd });
    const old = scriptOf(first.records[0]!);
    const oldText = readFileSync(old.path, "utf8");
    const changed = await renderRecords([{ ...first.records[0]!, command: [...TRAIN.slice(0, 2), "lr=0.05"] }], { cwd });
    const now = scriptOf(changed.records[0]!);
    expect(now.path).toBe(join(cwd, "runs/a", `job.${now.sha256.slice(0, 8)}.sbatch`));
    expect(readFileSync(old.path, "utf8")).toBe(oldText);
    expect(readFileSync(now.path, "utf8")).toContain("lr=0.05");
    expect(now.sha256).not.toBe(old.sha256);
    // The same change again: the same new file, nothing else written; the original content: the original file.
    await renderRecords([{ ...first.records[0]!, command: [...TRAIN.slice(0, 2), "lr=0.05"] }], { cwd });
    const back = await renderRecords([run("a", TRAIN)], { cwd });
    expect(scriptOf(back.records[0]!).path).toBe(old.path);
    expect(readdirSync(join(cwd, "runs/a")).sort()).toEqual(["job.sbatch", `job.${now.sha256.slice(0, 8)}.sbatch`, "logs"].sort());
  });

  it("arrays: a changed table and script get new files; the old table and script stay", async () => {
    const cwd = tempDir();
    const input = [run("a", TRAIN, { group: "g" }), run("b", TRAIN, { group: "g" })];
    const first = await renderRecords(input, { cwd, array: true });
    const old = scriptOf(first.records[0]!);
    const [oldScript, oldTable] = [readFileSync(old.path, "utf8"), readFileSync(old.array!.table, "utf8")];
    const second = await renderRecords([input[0]!, { ...input[1]!, command: [...TRAIN, "extra=1"] }], { cwd, array: true });
    const now = scriptOf(second.records[1]!);
    expect(now.path).not.toBe(old.path);
    expect(now.array!.table).not.toBe(old.array!.table);
    expect(readFileSync(old.path, "utf8")).toBe(oldScript);
    expect(readFileSync(old.array!.table, "utf8")).toBe(oldTable);
    expect(readFileSync(now.path, "utf8")).toContain(now.array!.table);
    expect(readFileSync(now.array!.table, "utf8")).not.toBe(oldTable);
  });
});

describe("values validated always (item 10)", () => {
  const bad: [Partial<Record<string, string | number>>, RegExp][] = [
    [{ time: "2h" }, /^--time: invalid time "2h": use \[D-\]HH:MM:SS, MM:SS, D-HH\[:MM\], whole minutes or UNLIMITED$/],
    [{ mem: "1.5G" }, /^--mem: invalid memory "1.5G": use a whole number with an optional unit K, M, G or T/],
    [{ mem_per_gpu: "lots" }, /^--mem-per-gpu: invalid memory/],
    [{ nodes: "abc" }, /^--nodes: expected a whole number of at least 1, got "abc"$/],
    [{ gpus_per_node: "1.5" }, /^--gpus-per-node: expected a whole number, got "1.5"$/],
    [{ time: "Partition_Limit" }, /^--time: invalid time/],
  ];
  for (const [resources, message] of bad) {
    it(`a bad flag value is a usage error naming the flag: ${JSON.stringify(resources)}`, async () => {
      const cwd = tempDir();
      const p = renderRecords([run("a", TRAIN)], { cwd, check: false, overrides: { resources } });
      await expect(p).rejects.toThrow(UsageError);
      await expect(p).rejects.toThrow(message);
    });
  }

  it("good values pass: minutes, D-HH, UNLIMITED, bare megabytes, lower-case units", async () => {
    const cwd = tempDir();
    for (const resources of [{ time: "90" }, { time: "1-12" }, { time: "UNLIMITED" }, { mem: "4000" }, { mem: "38g" }, { gpus_per_node: 0 }]) {
      const r = await renderRecords([run("a", TRAIN)], { cwd, overrides: { resources } });
      expect(r.code, JSON.stringify(resources)).toBe(0);
    }
  });

  it("a bad value in a record fails that record, naming the field; the others are rendered", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("a", TRAIN, { resources: { time: "2h" } }), run("b", TRAIN), run("c", TRAIN, { resources: { mem_per_cpu: "1.5G" } })], { cwd });
    expect(r.code).toBe(1);
    expect(r.records[0]!.error).toMatchObject({ code: "invalid_directive", message: expect.stringMatching(/^field "resources.time": invalid time "2h"/) });
    expect(r.records[1]!.script).toBeDefined();
    expect(r.records[2]!.error).toMatchObject({ message: expect.stringMatching(/^field "resources.mem_per_cpu": invalid memory "1.5G"/) });
    expect(r.stderr).toMatch(/stdin:1: run a: field "resources.time": invalid time "2h"/);
  });

  it("a flag overrides a bad record value (the flag wins), with the warning", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("a", TRAIN, { resources: { time: "2h" } })], { cwd, overrides: { resources: { time: "02:00:00" } } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/--time 02:00:00 replaced resources.time of 1 record\(s\)/);
  });

  it("a bad value in a profile is a bad profile (exit 2) naming the file and key", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "p.yaml"), "resources: {time: 2h}\n");
    await expect(renderRecords([run("a", TRAIN)], { cwd, profile: "./p.yaml" })).rejects.toThrow(/p\.yaml: key "resources.time": invalid time "2h"/);
    writeFileSync(join(cwd, "q.yaml"), "clamp: {mem: 4.5G, gpus: 0}\n");
    await expect(renderRecords([run("a", TRAIN)], { cwd, profile: "./q.yaml" })).rejects.toThrow(/q\.yaml: key "clamp.mem": invalid memory "4.5G"/);
  });
});
