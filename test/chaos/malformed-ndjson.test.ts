import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { records, runCli } from "../support/cli.ts";

/**
 * A corpus of malformed NDJSON fed to every command that reads records: each bad line is named
 * on stderr with its line number, the valid records around it come out, and the exit code is 1.
 */
const valid = (name: string) => JSON.stringify({ id: `${name}0123456789ab`, name, command: ["true"], custom: { kept: name } });
const oversize = `{"id":"x","pad":"${"x".repeat(17 * 1024 * 1024)}"}`;
const corpus = [
  `\uFEFF${valid("first")}\r`, // BOM + CRLF
  "not json",
  "[1,2,3]",
  "",
  '{"id": 5, "name": "wrongtype"}',
  '{"name": "noid"}',
  '{"id": "truncated", "name": ',
  oversize,
  `{"id":"deep","name":"deep","x":${"[".repeat(10_000)}${"]".repeat(10_000)}}`, // a 20 KB line 10,000 levels deep
  "null",
  valid("last"), // no trailing newline
].join("\n");
const BAD_LINES = [2, 3, 5, 6, 7, 8, 9, 10];
const LAST = 11;

const commands: [string, (dir: string) => string[]][] = [
  ["slurm-render", (dir) => ["--profile", "local", "--out", dir]],
  ["slurm-submit", (dir) => ["--dry-run", "--state", join(dir, "state")]],
  ["slurm-poll", (dir) => ["--once", "--state", join(dir, "state")]],
  ["log-parse", () => []],
  ["summary-md", (dir) => ["-o", join(dir, "STATUS.md")]],
];

describe("malformed NDJSON corpus", () => {
  it.each(commands)("%s names every bad line, keeps the valid records and exits 1", async (command, args) => {
    const dir = mkdtempSync(join(tmpdir(), `sp-corpus-${command}-`));
    const r = await runCli(command, args(dir), { input: corpus, cwd: dir });
    expect(r.exitCode).toBe(1);
    const stderr = String(r.stderr);
    expect(stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
    for (const line of BAD_LINES) expect(stderr).toContain(`stdin:${line}`);
    // The valid records are never errors (slurm-poll warns that they have no job, and passes them on).
    const errors = stderr.split("\n").filter((l) => l.includes(" error: "));
    expect(errors.filter((l) => l.includes("stdin:1:") || l.includes(`stdin:${LAST}:`))).toEqual([]);
    expect(stderr).toMatch(/stdin:9: .*nested deeper than/);
    expect(stderr).not.toMatch(/Maximum call stack/);
    if (command === "summary-md") return; // a markdown sink: checked through its exit code and errors
    const out = records(r.stdout);
    const names = out.map((rec) => rec.name);
    expect(names).toContain("first");
    expect(names).toContain("last");
    // Fields the command does not know pass through.
    expect(out.find((rec) => rec.name === "last")?.custom).toEqual({ kept: "last" });
  });

  it("--strict stops at the first bad line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-corpus-strict-"));
    const r = await runCli("slurm-render", ["--profile", "local", "--out", dir, "--strict"], { input: corpus, cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain("stdin:2");
    expect(String(r.stderr)).not.toContain("stdin:3");
  });
});

describe("untrusted text in messages", () => {
  // A run name that clears the screen, retitles the terminal, reverses the text and forges a line.
  const hostile = "x\u001b[2J\u001b]0;pwned\u0007\u202e\nslurm-render: all good";
  const input = `${JSON.stringify({ id: "hostile0123456789", name: hostile, command: ["true"] })}\nnot json \u001b[31m\n`;
  it.each(commands)("%s prints it escaped: no control character reaches the terminal", async (command, args) => {
    const dir = mkdtempSync(join(tmpdir(), `sp-escape-${command}-`));
    const r = await runCli(command, args(dir), { input, cwd: dir });
    const stderr = String(r.stderr);
    expect(stderr).toContain("stdin:2"); // the bad line is still named
    expect(stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    for (const line of stderr.split("\n")) expect(line.startsWith("slurm-render: all good")).toBe(false);
  });
});
