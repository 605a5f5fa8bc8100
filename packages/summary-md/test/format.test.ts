import { describe, expect, it } from "vitest";
import { shellQuoteForDisplay as shellQuote } from "@slurmpipe/core";
import { codeSpan, mdCell, mdText, naturalCompare, oneLine } from "../src/format.ts";
import { parseRow } from "../src/update.ts";
import { run } from "./helpers.ts";

describe("markdown escaping", () => {
  it("code spans hold backticks and pipes verbatim", () => {
    expect(codeSpan("plain")).toBe("`plain`");
    expect(codeSpan("a `b` c")).toBe("``a `b` c``");
    expect(codeSpan("``x``")).toBe("``` ``x`` ```");
    expect(codeSpan("a | b", { inTable: true })).toBe("`a \\| b`");
    expect(codeSpan("")).toBe("` `");
  });

  it("text is one line without ANSI colours or control characters", () => {
    expect(oneLine("\u001b[31mError\u001b[0m:\r\n  boom\tnow\u0007")).toBe("Error: boom now");
    expect(oneLine("x".repeat(300), 10)).toBe(`${"x".repeat(9)}…`);
  });

  it("escapes markdown syntax so a log line cannot inject links, HTML or table cells", () => {
    expect(mdText("<script>[x](y) *a* |")).toBe("\\<script\\>\\[x\\](y) \\*a\\* \\|");
    expect(mdCell("run_a|b")).toBe("run_a\\|b");
  });

  it("a table row stays 8 cells whatever the record holds", async () => {
    const rec = {
      id: "x",
      name: "evil|name`",
      job: { id: "9|9" },
      state: { state: "FAILED", category: "failure", terminal: true, exit_code: "1:0", reason: "a|b" },
      report: { loss: { trend: "NO_DATA" }, failures: [{ class: "PYTHON_EXCEPTION", message: "ValueError: x | y\nsecond line", evidence: [{ file: "l|og.err", line: 3, text: "`x` | y" }] }] },
    };
    const { stdout } = await run({ stdinText: JSON.stringify(rec), plots: false });
    const row = stdout.split("\n").find((l) => l.startsWith("| evil"))!;
    expect(parseRow(row)!.cells).toHaveLength(8);
    expect(row).toContain("evil\\|name\\`");
    expect(stdout).toContain("`l|og.err:3` `` `x` | y ``");
    expect(stdout).toContain("ValueError: x \\| y second line");
  });

  it("shell quoting and natural order", () => {
    expect(shellQuote("38G")).toBe("38G");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    // The printed rerun commands use core's quoting: control characters as $'...' escapes (a
    // newline in a value kept the pasted command from being one line), a NUL shown, not thrown.
    expect(shellQuote("a\nb")).toBe("$'a\\nb'");
    expect(shellQuote("\u001b[31m")).toBe("$'\\x1b[31m'");
    expect(shellQuote("x\u0000y")).toBe("$'x\\x00y'");
    expect(["run10", "run2", "run1"].sort(naturalCompare)).toEqual(["run1", "run2", "run10"]);
  });
});

describe("shares", () => {
  it("are never rounded to 100% or 0% unless exact", async () => {
    const { percent } = await import("../src/format.ts");
    expect(percent(215, 216)).toBe("99.5%");
    expect(percent(216, 216)).toBe("100%");
    expect(percent(0, 216)).toBe("0%");
    expect(percent(1, 216)).toBe("0.5%");
    expect(percent(1, 3000)).toBe("0.03%");
    expect(percent(9999, 10000)).toBe("99.99%");
    expect(percent(999_999, 1_000_000)).toBe(">99.999%");
    expect(percent(1, 1_000_000)).toBe("<0.001%");
    expect(percent(3, 4)).toBe("75%");
    expect(percent(6, 5)).toBe("120%");
  });

  it("the headline of 215 completed runs and one failed says 99.5%", async () => {
    const state = (s: string, category: string) => ({ state: s, category, terminal: true });
    const runs = Array.from({ length: 216 }, (_, i) => ({ id: `r${i}`, name: `run${i}`, job: { id: String(1000 + i) }, state: i === 7 ? state("FAILED", "failure") : state("COMPLETED", "success") }));
    const { stdout } = await run({ stdinText: runs.map((r) => JSON.stringify(r)).join("\n"), plots: false, now: "2026-01-01T00:00:00Z" });
    expect(stdout).toContain("**215 of 216 completed (99.5%)** · 216 finished (100%) · 1 failed");
  });
});
