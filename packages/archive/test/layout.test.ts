import { describe, expect, test } from "vitest";
import { classify, csvField, csvLine, destinationFor, expandLogPattern, formatStamp, inside, safeArchivePath, safeComponent, shouldCompress } from "../src/index.ts";

describe("archive paths", () => {
  test("relative forward-slash paths pass", () => {
    expect(safeArchivePath("runs/a/checkpoints/model.ckpt")).toBe("runs/a/checkpoints/model.ckpt");
  });
  test.each(["../etc/passwd", "runs/../../x", "/abs/path", "runs//a", "./runs/a", "a\\b", "C:/x", ""])("refuses %j", (p) => {
    expect(() => safeArchivePath(p)).toThrow(/unsafe archive path/);
  });
  test("destinationFor never leaves the root", () => {
    expect(destinationFor("/restore", "runs/a/x")).toBe("/restore/runs/a/x");
    expect(() => destinationFor("/restore", "runs/../../x")).toThrow();
  });
  test("run names become one safe component", () => {
    expect(safeComponent("../evil")).toBe(".._evil");
    expect(safeComponent("..")).toBe("_");
    expect(safeComponent("lr=0.1,seed=2")).toBe("lr=0.1_seed=2");
    expect(safeComponent("a/b")).toBe("a_b");
  });
  test("inside", () => {
    expect(inside("/a/b", "/a/b/c/d")).toBe("c/d");
    expect(inside("/a/b", "/a/bc")).toBeUndefined();
    expect(inside("/a/b", "/a/b")).toBeUndefined();
  });
  test("stamp is UTC, sortable, colon-free", () => {
    expect(formatStamp(new Date("2025-03-04T05:06:07.890Z"))).toBe("20250304T050607Z");
  });
});

describe("sbatch log patterns", () => {
  test("plain job", () => {
    expect(expandLogPattern("/l/%x-%j.out", { id: "128", name: "train.sp1" }).glob).toBe("/l/train.sp1-128.out");
    expect(expandLogPattern("/l/%A_%a.out", { id: "128" }).glob).toBe("/l/128_4294967294.out");
    expect(expandLogPattern("/l/job%4j-%u-100%%.out", { id: "12", user: "me" }).glob).toBe("/l/job0012-me-100%.out");
  });
  test("array task: %A and %a known, the task's own %j is not", () => {
    const r = expandLogPattern("/l/%A_%a-%j.out", { id: "129_2", array_task: 2 });
    expect(r.glob).toBe("/l/129_2-*.out");
    expect(r.wildcard).toBe(true);
  });
  test("glob characters in names are escaped", () => {
    expect(expandLogPattern("/l/%x.out", { name: "run[1]" }).glob).toBe("/l/run\\[1\\].out");
  });
  test("%N becomes a wildcard", () => {
    expect(expandLogPattern("/l/%N.out", {}).glob).toBe("/l/*.out");
  });
});

describe("roles and compression", () => {
  test.each([
    ["runs/a/checkpoints/epoch=3.ckpt", "checkpoint"],
    ["runs/a/model.safetensors", "checkpoint"],
    ["runs/a/metrics.csv", "metrics"],
    ["runs/a/_logs/slurm-12.out", "log"],
    ["runs/a/hparams.yaml", "config"],
    ["runs/a/job.sbatch", "script"],
    ["runs/a/notes.txt", "other"],
  ])("%s is %s", (p, role) => expect(classify(p)).toBe(role));
  test("checkpoints always, big files over the threshold, compressed files never", () => {
    expect(shouldCompress("a/model.pt", 10, 1000)).toBe(true);
    expect(shouldCompress("a/data.txt", 1001, 1000)).toBe(true);
    expect(shouldCompress("a/data.txt", 1000, 1000)).toBe(false);
    expect(shouldCompress("a/data.tar.gz", 10_000, 1000)).toBe(false);
  });
});

describe("CSV escaping", () => {
  test.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    [" pad", '" pad"'],
    [0.1, "0.1"],
    [null, ""],
    [undefined, ""],
    [[1, 2], '"[1,2]"'],
  ])("%j -> %s", (v, out) => expect(csvField(v)).toBe(out));
  test("line", () => expect(csvLine(["a", 1, "x,y"])).toBe('a,1,"x,y"\n'));
});
