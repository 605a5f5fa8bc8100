import { existsSync, readFileSync, readdirSync, renameSync, rmSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, test } from "vitest";
import { archive, cleanup, fileSha, flipByte, makeSweep, sha, tempDir, write } from "./helpers.ts";

afterAll(cleanup);

const NOW = "2025-01-01T00:00:00Z";
const ARCHIVE = "lr-sweep-20250101T000000Z";

const entries = (records: Record<string, unknown>[]) => records.filter((r) => r.kind === "archive-entry");
const manifestOf = (dir: string) =>
  readFileSync(join(dir, "MANIFEST.ndjson"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("pack a directory archive", () => {
  test("layout, manifest, checksums, compression and stdout records", async () => {
    const root = tempDir();
    const { input } = makeSweep(root);
    const r = await archive({ now: NOW }, { cwd: root, input });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const dir = join(root, "archives", ARCHIVE);
    const manifest = manifestOf(dir);
    // stdout carries exactly the manifest entries, then a summary.
    expect(entries(r.records)).toEqual(manifest);
    expect(r.records.at(-1)).toMatchObject({ kind: "archive-summary", archive: dir, files: manifest.length });

    const paths = manifest.map((e) => e.path).sort();
    expect(paths).toEqual([
      "metrics.csv",
      "metrics.ndjson",
      "metrics.parquet",
      "runs/lr0.1/_logs/lr0.1-100.out",
      "runs/lr0.1/checkpoints/model.ckpt",
      "runs/lr0.1/hparams.yaml",
      "runs/lr0.1/metrics.csv",
      "runs/lr0.2/_logs/lr0.2-101.out",
      "runs/lr0.2/checkpoints/model.ckpt",
      "runs/lr0.2/hparams.yaml",
      "runs/lr0.2/metrics.csv",
    ]);
    for (const e of manifest) {
      expect(String(e.path)).not.toMatch(/^\/|(^|\/)\.\.(\/|$)/);
      const stored = join(dir, String(e.stored_as ?? e.path));
      const bytes = readFileSync(stored);
      if (e.compressed) {
        expect(e.compressed).toBe("gzip");
        expect(e.stored_as).toBe(`${e.path}.gz`);
        expect(e.stored_sha256).toBe(sha(bytes));
        expect(e.stored_size).toBe(bytes.length);
        // Round trip: the one file decompresses alone to the original.
        const original = gunzipSync(bytes);
        expect(sha(original)).toBe(e.sha256);
        expect(original.length).toBe(e.size);
        expect(sha(original)).toBe(fileSha(String(e.source)));
      } else {
        expect(sha(bytes)).toBe(e.sha256);
        expect(bytes.length).toBe(e.size);
      }
    }
    const ckpt = manifest.find((e) => e.path === "runs/lr0.1/checkpoints/model.ckpt")!;
    expect(ckpt).toMatchObject({ role: "checkpoint", run_id: "id-a", run_name: "lr0.1", compressed: "gzip" });
    expect(manifest.find((e) => e.path === "runs/lr0.1/_logs/lr0.1-100.out")).toMatchObject({ role: "log" });
    const csv = manifest.find((e) => e.path === "runs/lr0.1/metrics.csv")!;
    expect(csv.role).toBe("metrics");
    expect(csv.compressed).toBeUndefined();
    // SHA256SUMS lists the stored bytes, so `sha256sum -c` works inside the directory.
    const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8").trim().split("\n");
    expect(sums).toHaveLength(manifest.length);
    for (const line of sums) {
      const [hash, path] = line.split("  ");
      expect(fileSha(join(dir, path!))).toBe(hash);
    }
    // No partial or temporary leftovers next to the archive.
    expect(readdirSync(join(root, "archives"))).toEqual([ARCHIVE]);
  });

  test("SOURCE_DATE_EPOCH names the archive; an existing one is never overwritten", async () => {
    const root = tempDir();
    const { input } = makeSweep(root);
    const env = { SOURCE_DATE_EPOCH: "1735689600" };
    expect((await archive({}, { cwd: root, input, env })).code).toBe(0);
    expect(existsSync(join(root, "archives", ARCHIVE))).toBe(true);
    const again = await archive({}, { cwd: root, input, env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });

  test("run names cannot escape the archive", async () => {
    const root = tempDir();
    write(join(root, "d", "x.txt"), "x");
    const rec = { id: "e", name: "../../evil", dir: join(root, "d") };
    const r = await archive({ now: NOW, name: "../up" }, { cwd: root, input: `${JSON.stringify(rec)}\n` });
    expect(r.code).toBe(0);
    const paths = entries(r.records).map((e) => e.path);
    expect(paths).toEqual(["runs/.._.._evil/x.txt"]);
    expect(readdirSync(join(root, "archives"))).toEqual([".._up-20250101T000000Z"]);
  });

  test("directories and loose files as arguments", async () => {
    const root = tempDir();
    write(join(root, "exp1", "a", "b.txt"), "b");
    write(join(root, "notes.md"), "n");
    const r = await archive({ now: NOW, inputs: ["exp1", "notes.md"], name: "misc" }, { cwd: root });
    expect(r.code).toBe(0);
    expect(entries(r.records).map((e) => e.path)).toEqual(["files/notes.md", "runs/exp1/a/b.txt"]);
  });

  test("bad input lines are named and the good runs are still archived", async () => {
    const root = tempDir();
    const { input } = makeSweep(root);
    const bad = `${input}{"id":"x"}\nnot json\n{"kind":"event","job_id":"1","from":null,"to":"RUNNING","at":"t"}\n`;
    const r = await archive({ now: NOW }, { cwd: root, input: bad });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stdin:3: field "name"/);
    expect(r.stderr).toMatch(/stdin:4: not JSON/);
    expect(r.stderr).not.toMatch(/stdin:5/);
    expect(entries(r.records).length).toBe(11);
  });
});

describe("checks", () => {
  test("a missing declared output blocks packing unless --allow-missing", async () => {
    const root = tempDir();
    const { records } = makeSweep(root);
    records[1]!.outputs = ["checkpoints/*.ckpt", "eval/results.json"];
    const input = records.map((r) => JSON.stringify(r)).join("\n");
    const r = await archive({ now: NOW }, { cwd: root, input });
    expect(r.code).toBe(1);
    expect(r.records).toEqual([expect.objectContaining({ kind: "archive-check", run_id: "id-b", problem: "missing_output", pattern: "eval/results.json", severity: "error" })]);
    expect(existsSync(join(root, "archives"))).toBe(false);
    const allowed = await archive({ now: NOW, allowMissing: true }, { cwd: root, input });
    expect(allowed.code).toBe(0);
    expect(allowed.records[0]).toMatchObject({ problem: "missing_output", severity: "warning" });
  });

  test("--check-only reports empty files and truncated checkpoints without packing", async () => {
    const root = tempDir();
    const records = ["a", "b", "c", "d"].map((n, i) => {
      const dir = join(root, n);
      write(join(dir, "ckpt", "last.ckpt"), Buffer.alloc(i === 2 ? 300 : 1000, 1));
      write(join(dir, "result.json"), i === 3 ? "" : "{}");
      write(join(dir, "stderr.log"), "");
      return { id: n, name: n, dir, outputs: ["ckpt/*.ckpt", "result.json"] };
    });
    const r = await archive({ now: NOW, checkOnly: true }, { cwd: root, input: records.map((x) => JSON.stringify(x)).join("\n") });
    expect(r.code).toBe(1);
    const problems = r.records.map((x) => [x.problem, x.run_id, x.severity]);
    expect(problems).toContainEqual(["size_outlier", "c", "warning"]);
    expect(problems).toContainEqual(["empty_output", "d", "error"]);
    expect(problems.filter((p) => p[0] === "size_outlier")).toHaveLength(1);
    // An empty stderr log is normal and not reported.
    expect(r.records.some((x) => String(x.path ?? "").endsWith("stderr.log"))).toBe(false);
    expect(r.records.every((x) => x.kind === "archive-check")).toBe(true);
    expect(existsSync(join(root, "archives"))).toBe(false);
  });

  test("runs that did not succeed are flagged", async () => {
    const root = tempDir();
    write(join(root, "a", "x"), "x");
    const rec = { id: "a", name: "a", dir: join(root, "a"), state: { state: "TIMEOUT", category: "failure", terminal: true } };
    const r = await archive({ checkOnly: true }, { cwd: root, input: JSON.stringify(rec) });
    expect(r.code).toBe(0);
    expect(r.records).toEqual([expect.objectContaining({ problem: "run_failed", severity: "warning" })]);
  });
});

describe("metrics dataset", () => {
  test("wide rows per run and step, params as columns, sparse Lightning rows merged", async () => {
    const root = tempDir();
    const { records } = makeSweep(root);
    records[0]!.params = { lr: 0.1, seed: 0, note: 'say "hi", twice', optim: { name: "adamw" } };
    write(join(String(records[1]!.dir), "metrics.csv"), "epoch,step,train_loss,val_loss\n0,10,nan,\n");
    const r = await archive({ now: NOW }, { cwd: root, input: records.map((x) => JSON.stringify(x)).join("\n") });
    expect(r.code).toBe(0);
    const dir = join(root, "archives", ARCHIVE);
    const csv = readFileSync(join(dir, "metrics.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("run_id,name,variant,lr,note,optim.name,seed,step,epoch,train_loss,val_loss");
    expect(csv[1]).toBe('id-a,lr0.1,S-core,0.1,"say ""hi"", twice",adamw,0,10,0,1.9,1.4');
    expect(csv[2]).toBe('id-a,lr0.1,S-core,0.1,"say ""hi"", twice",adamw,0,20,1,0.9,');
    expect(csv[3]).toBe("id-b,lr0.2,S-core,0.2,,,1,10,0,nan,");
    const nd = readFileSync(join(dir, "metrics.ndjson"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(nd[0]).toEqual({ run_id: "id-a", name: "lr0.1", variant: "S-core", params: records[0]!.params, step: 10, metrics: { epoch: 0, train_loss: 1.9, val_loss: 1.4 } });
    expect(nd[2]).toMatchObject({ run_id: "id-b", metrics: { train_loss: null }, nonfinite: { train_loss: "nan" } });
    expect(r.records).toContainEqual(expect.objectContaining({ kind: "archive-check", problem: "nonfinite_metric", run_id: "id-b" }));
    expect(entries(r.records).filter((e) => e.role === "metrics" && e.run_id === undefined).map((e) => e.path)).toEqual(["metrics.ndjson", "metrics.csv", "metrics.parquet"]);
  });

  test("log-parse series are used when a run has no metrics.csv; a param named like a metric is prefixed", async () => {
    const root = tempDir();
    write(join(root, "a", "out.txt"), "x");
    const rec = {
      id: "a",
      name: "a",
      dir: join(root, "a"),
      params: { lr: 0.1 },
      report: { series: { loss: [{ step: 1, value: 2.5 }, { step: 2, value: null, raw: "nan" }], lr: [{ step: 1, value: 0.1 }] } },
    };
    const r = await archive({ now: NOW, name: "s" }, { cwd: root, input: JSON.stringify(rec) });
    expect(r.code).toBe(0);
    const csv = readFileSync(join(root, "archives", "s-20250101T000000Z", "metrics.csv"), "utf8").trim().split("\n");
    expect(csv).toEqual(["run_id,name,variant,param.lr,step,loss,lr", "a,a,,0.1,1,2.5,0.1", "a,a,,0.1,2,nan,"]);
  });
});

describe("--verify", () => {
  async function packed(format: "dir" | "tar.gz" = "dir") {
    const root = tempDir();
    const { input } = makeSweep(root);
    const r = await archive({ now: NOW, format }, { cwd: root, input });
    expect(r.code).toBe(0);
    return { root, archivePath: String(r.records.at(-1)!.archive) };
  }

  test("a clean archive verifies", async () => {
    const { root, archivePath } = await packed();
    const v = await archive({ verify: archivePath }, { cwd: root });
    expect(v.code).toBe(0);
    expect(v.records.at(-1)).toMatchObject({ kind: "archive-verify-summary", ok: true, files: 11, failed: 0 });
    expect(v.records.filter((x) => x.kind === "archive-verify").every((x) => x.ok === true)).toBe(true);
  });

  test("a flipped byte in a stored file and in a compressed checkpoint: exit 1 naming each", async () => {
    const { root, archivePath } = await packed();
    flipByte(join(archivePath, "runs/lr0.1/metrics.csv"), 5);
    flipByte(join(archivePath, "runs/lr0.2/checkpoints/model.ckpt.gz"), 5000);
    const v = await archive({ verify: archivePath }, { cwd: root });
    expect(v.code).toBe(1);
    const bad = v.records.filter((x) => x.kind === "archive-verify" && x.ok === false);
    expect(bad.map((x) => x.path).sort()).toEqual(["runs/lr0.1/metrics.csv", "runs/lr0.2/checkpoints/model.ckpt"]);
    expect(bad.find((x) => x.path === "runs/lr0.1/metrics.csv")!.problem).toBe("sha256_mismatch");
    expect(v.stderr).toMatch(/runs\/lr0.1\/metrics.csv/);
    expect(v.stderr).toMatch(/runs\/lr0.2\/checkpoints\/model.ckpt/);
  });

  test("missing and extra files", async () => {
    const { root, archivePath } = await packed();
    rmSync(join(archivePath, "runs/lr0.1/hparams.yaml"));
    write(join(archivePath, "runs/lr0.1/stray.txt"), "?");
    const v = await archive({ verify: archivePath }, { cwd: root });
    expect(v.code).toBe(1);
    expect(v.records).toContainEqual(expect.objectContaining({ path: "runs/lr0.1/hparams.yaml", ok: false, problem: "missing" }));
    expect(v.records).toContainEqual(expect.objectContaining({ path: "runs/lr0.1/stray.txt", ok: false, problem: "extra" }));
    expect(v.records.at(-1)).toMatchObject({ missing: 1, extra: 1 });
  });

  test("a flipped byte inside a tar.gz is caught and named", async () => {
    const { root, archivePath } = await packed("tar.gz");
    expect((await archive({ verify: archivePath }, { cwd: root })).code).toBe(0);
    // Corrupt one file's content inside the tarball (rebuild the gzip with one byte changed).
    const { gunzipSync: gunzip, gzipSync } = await import("node:zlib");
    const tar = gunzip(readFileSync(archivePath));
    const at = tar.indexOf(Buffer.from("epoch,step,train_loss")) + 2;
    tar[at] = tar[at]! ^ 0x01;
    write(archivePath, gzipSync(tar));
    const v = await archive({ verify: archivePath }, { cwd: root });
    expect(v.code).toBe(1);
    const bad = v.records.filter((x) => x.kind === "archive-verify" && x.ok === false);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ path: "runs/lr0.1/metrics.csv", problem: "sha256_mismatch" });
  });
});

describe("--restore", () => {
  for (const format of ["dir", "tar.gz", "tar.zst"] as const) {
    test(`${format}: round trip gives byte-identical files with their mtimes`, async () => {
      const root = tempDir();
      const { input } = makeSweep(root);
      const r = await archive({ now: NOW, format }, { cwd: root, input });
      expect(r.code).toBe(0);
      const archivePath = String(r.records.at(-1)!.archive);
      const originals = entries(r.records).filter((e) => e.source);
      const v = await archive({ verify: archivePath }, { cwd: root });
      expect(v.code).toBe(0);
      const to = join(root, "restored");
      const back = await archive({ restore: archivePath, to }, { cwd: root });
      expect(back.stderr).toBe(`archive: restored 11 file(s) to ${to}\n`);
      expect(back.code).toBe(0);
      for (const e of originals) {
        const restored = join(to, String(e.path));
        expect(fileSha(restored)).toBe(fileSha(String(e.source)));
      }
      expect(readdirSync(to).sort()).toEqual(["metrics.csv", "metrics.ndjson", "metrics.parquet", "runs"]);
    });
  }

  test("--only restores a single checkpoint; existing files are refused unless --force", async () => {
    const root = tempDir();
    const { input } = makeSweep(root);
    const r = await archive({ now: NOW, format: "tar.gz" }, { cwd: root, input });
    const archivePath = String(r.records.at(-1)!.archive);
    const to = join(root, "one");
    const one = await archive({ restore: archivePath, to, only: ["runs/lr0.2/**/*.ckpt"] }, { cwd: root });
    expect(one.code).toBe(0);
    expect(one.records.map((x) => x.path)).toEqual(["runs/lr0.2/checkpoints/model.ckpt"]);
    expect(fileSha(join(to, "runs/lr0.2/checkpoints/model.ckpt"))).toBe(fileSha(join(root, "runs/lr0.2/checkpoints/model.ckpt")));
    expect(readdirSync(to)).toEqual(["runs"]); // no spool directory left behind

    write(join(to, "runs/lr0.2/checkpoints/model.ckpt"), "local edit");
    const refused = await archive({ restore: archivePath, to, only: ["runs/lr0.2/**/*.ckpt"] }, { cwd: root });
    expect(refused.code).toBe(1);
    expect(refused.records[0]).toMatchObject({ ok: false, problem: "exists" });
    expect(readFileSync(join(to, "runs/lr0.2/checkpoints/model.ckpt"), "utf8")).toBe("local edit");
    const forced = await archive({ restore: archivePath, to, only: ["runs/lr0.2/**/*.ckpt"], force: true }, { cwd: root });
    expect(forced.code).toBe(0);
    expect(fileSha(join(to, "runs/lr0.2/checkpoints/model.ckpt"))).toBe(fileSha(join(root, "runs/lr0.2/checkpoints/model.ckpt")));
  });

  test("a corrupted checkpoint is not written out", async () => {
    const root = tempDir();
    const { input } = makeSweep(root);
    const r = await archive({ now: NOW }, { cwd: root, input });
    const archivePath = String(r.records.at(-1)!.archive);
    flipByte(join(archivePath, "runs/lr0.1/checkpoints/model.ckpt.gz"), 3000);
    const to = join(root, "restored");
    const back = await archive({ restore: archivePath, to }, { cwd: root });
    expect(back.code).toBe(1);
    const failed = back.records.filter((x) => x.ok === false && x.problem !== "not_restored");
    expect(failed.map((x) => x.path)).toEqual(["runs/lr0.1/checkpoints/model.ckpt"]);
    // All or nothing: the good files are not written either, and --to is not even created.
    expect(back.records.filter((x) => x.problem === "not_restored")).toHaveLength(10);
    expect(existsSync(to)).toBe(false);
  });
});

describe("incremental and prune", () => {
  test("unchanged files are not stored again; restore still gives everything", async () => {
    const root = tempDir();
    const { input, records } = makeSweep(root);
    const first = await archive({ now: NOW }, { cwd: root, input });
    expect(first.code).toBe(0);
    // Change one file; touch another without changing its content.
    write(join(String(records[0]!.dir), "metrics.csv"), "epoch,step,train_loss\n0,10,1.0\n0,20,0.5\n");
    const yaml = join(String(records[1]!.dir), "hparams.yaml");
    utimesSync(yaml, new Date(), new Date("2030-01-01"));
    const second = await archive({ now: "2025-01-02T00:00:00Z", incremental: true }, { cwd: root, input });
    expect(second.code).toBe(0);
    const byPath = new Map(entries(second.records).map((e) => [e.path, e]));
    expect(byPath.get("runs/lr0.1/metrics.csv")!.unchanged_from).toBeUndefined();
    expect(byPath.get("runs/lr0.1/checkpoints/model.ckpt")).toMatchObject({ unchanged_from: ARCHIVE, stored_as: "runs/lr0.1/checkpoints/model.ckpt.gz" });
    expect(byPath.get("runs/lr0.2/hparams.yaml")).toMatchObject({ unchanged_from: ARCHIVE }); // hashed: same content
    expect(second.records.at(-1)).toMatchObject({ unchanged: 7, stored: 4, incremental_from: join(root, "archives", ARCHIVE) });
    const secondPath = String(second.records.at(-1)!.archive);
    expect(existsSync(join(secondPath, "runs/lr0.1/checkpoints/model.ckpt.gz"))).toBe(false);

    // A third run chains to where the bytes really are.
    const third = await archive({ now: "2025-01-03T00:00:00Z", incremental: true }, { cwd: root, input });
    const third_ = new Map(entries(third.records).map((e) => [e.path, e]));
    expect(third_.get("runs/lr0.1/checkpoints/model.ckpt")!.unchanged_from).toBe(ARCHIVE);
    expect(third_.get("runs/lr0.1/metrics.csv")!.unchanged_from).toBe("lr-sweep-20250102T000000Z");

    expect((await archive({ verify: String(third.records.at(-1)!.archive) }, { cwd: root })).code).toBe(0);
    const to = join(root, "restored");
    const back = await archive({ restore: String(third.records.at(-1)!.archive), to }, { cwd: root });
    expect(back.code).toBe(0);
    for (const e of entries(third.records).filter((x) => x.source)) expect(fileSha(join(to, String(e.path)))).toBe(fileSha(String(e.source)));

    // Verify reads the base archive's bytes too: corrupting the base fails the new archive.
    flipByte(join(root, "archives", ARCHIVE, "runs/lr0.2/checkpoints/model.ckpt.gz"), 100);
    const v = await archive({ verify: secondPath }, { cwd: root });
    expect(v.code).toBe(1);
    expect(v.records).toContainEqual(expect.objectContaining({ path: "runs/lr0.2/checkpoints/model.ckpt", ok: false, unchanged_from: ARCHIVE }));
  });

  test("a missing base archive is reported", async () => {
    const root = tempDir();
    const { input } = makeSweep(root);
    await archive({ now: NOW }, { cwd: root, input });
    const second = await archive({ now: "2025-01-02T00:00:00Z", incremental: true }, { cwd: root, input });
    renameSync(join(root, "archives", ARCHIVE), join(root, "elsewhere"));
    const v = await archive({ verify: String(second.records.at(-1)!.archive) }, { cwd: root });
    expect(v.code).toBe(1);
    expect(v.records.filter((x) => x.problem === "missing_base").length).toBeGreaterThan(0);
  });

  test("sources are never touched without --prune-sources", async () => {
    const root = tempDir();
    const { input, records } = makeSweep(root);
    const before = fileSha(join(String(records[0]!.dir), "checkpoints/model.ckpt"));
    await archive({ now: NOW, verifyAfter: true }, { cwd: root, input });
    expect(fileSha(join(String(records[0]!.dir), "checkpoints/model.ckpt"))).toBe(before);
  });

  test("--prune-sources deletes archived files after a clean verify, keeps directories, logs each deletion", async () => {
    const root = tempDir();
    const { input, records } = makeSweep(root);
    const r = await archive({ now: NOW, pruneSources: true }, { cwd: root, input });
    expect(r.code).toBe(0);
    expect(r.records.at(-1)).toMatchObject({ verified: true, pruned: 8 });
    expect(readdirSync(String(records[0]!.dir)).sort()).toEqual(["checkpoints"]);
    expect(readdirSync(join(String(records[0]!.dir), "checkpoints"))).toEqual([]);
    expect(r.stderr.match(/archive: pruned /g)).toHaveLength(8);
    expect(r.stderr).toContain(`pruned ${join(String(records[0]!.dir), "checkpoints/model.ckpt")}`);
  });

  test("--prune-sources deletes nothing when verification fails", async () => {
    const root = tempDir();
    const { input, records } = makeSweep(root);
    await archive({ now: NOW }, { cwd: root, input });
    // The new archive refers to the base for unchanged files; a corrupted base fails its verification.
    flipByte(join(root, "archives", ARCHIVE, "runs/lr0.1/checkpoints/model.ckpt.gz"), 100);
    const r = await archive({ now: "2025-01-02T00:00:00Z", incremental: true, pruneSources: true }, { cwd: root, input });
    expect(r.code).toBe(1);
    expect(r.records.at(-1)).toMatchObject({ verified: false });
    expect(r.records.at(-1)!.pruned).toBeUndefined();
    expect(r.stderr).toMatch(/no source deleted/);
    expect(existsSync(join(String(records[0]!.dir), "checkpoints/model.ckpt"))).toBe(true);
    expect(existsSync(join(String(records[1]!.dir), "metrics.csv"))).toBe(true);
  });
});

describe("damaged tarballs", () => {
  for (const format of ["tar.gz", "tar.zst"] as const) {
    test(`${format}: a flipped byte in the compressed stream fails verify, naming the file it hit`, async () => {
      const root = tempDir();
      const { input } = makeSweep(root);
      const r = await archive({ now: NOW, format }, { cwd: root, input });
      const archivePath = String(r.records.at(-1)!.archive);
      const size = readFileSync(archivePath).length;
      flipByte(archivePath, Math.floor(size / 4));
      const v = await archive({ verify: archivePath }, { cwd: root });
      expect(v.code).toBe(1);
      const bad = v.records.filter((x) => x.kind === "archive-verify" && x.ok === false);
      expect(bad.length).toBeGreaterThan(0);
      expect(String(bad[0]!.path)).toMatch(/^runs\/lr0\.1\/|^runs\/lr0\.2\/|^lr-sweep/);
      expect(v.stderr).toMatch(/runs\/lr0\.[12]\//);
      const back = await archive({ restore: archivePath, to: join(root, "r") }, { cwd: root });
      expect(back.code).toBe(1);
    });
  }
});

describe("stdout closed early (archive | head -1)", () => {
  test("the archive is still completed; only the records stop", async () => {
    const { PassThrough } = await import("node:stream");
    const { createLogger } = await import("@slurmpipe/core");
    const { DEFAULTS } = await import("./helpers.ts");
    const { runArchive } = await import("../src/index.ts");
    const root = tempDir();
    const { input } = makeSweep(root);
    const stdout = new PassThrough();
    let lines = 0;
    stdout.on("data", () => {
      lines += 1;
      if (lines === 1) {
        const err = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
        stdout.emit("error", err);
      }
    });
    const stderr = new PassThrough();
    stderr.resume();
    const { Readable } = await import("node:stream");
    const code = await runArchive(
      { ...DEFAULTS, now: NOW },
      { stdin: Readable.from([input]), stdout, stderr, log: createLogger("archive", { stderr }), env: {}, cwd: root },
    );
    expect(code).toBe(0);
    const v = await archive({ verify: join(root, "archives", ARCHIVE) }, { cwd: root });
    expect(v.code).toBe(0);
    expect(v.records.at(-1)).toMatchObject({ ok: true, files: 11 });
  });
});
