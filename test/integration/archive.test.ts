import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, expect, it } from "vitest";
import { records, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster, waitForJobs } from "../support/slurm.ts";

// "Done means" of the archive issue: archive a sweep run on the local Slurm, delete the
// originals, restore from the archive, get byte-identical files; --verify catches a flipped byte.

const root = mkdtempSync(join(tmpdir(), "sp-archive-it-"));
const tag = randomBytes(3).toString("hex");
const submitted: string[] = [];
afterAll(async () => {
  if (submitted.length > 0) await execa("scancel", submitted, { reject: false }); // only our own ids
  rmSync(root, { recursive: true, force: true });
});

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** A tiny "training" job: a few MB of random checkpoint, a Lightning-style metrics.csv, log lines. */
const SCRIPT = `#!/bin/bash
set -euo pipefail
echo "Epoch 0: loss=$1"
mkdir -p checkpoints
head -c $((2 * 1024 * 1024 + $2)) /dev/urandom > checkpoints/model.ckpt
printf 'epoch,step,train_loss,val_loss\\n0,10,%s,\\n0,10,,%s\\n1,20,%s,\\n' "$1" "$1" "$1" > metrics.csv
echo "warning: something on stderr" >&2
echo "done"
`;

describeSlurm("archive against the real local Slurm", () => {
  it("archives a 3-run sweep, restores byte-identical files after deleting the originals, and --verify catches a flipped byte", async () => {
    requireCluster();
    const script = join(root, "train.sh");
    writeFileSync(script, SCRIPT);
    chmodSync(script, 0o755);
    mkdirSync(join(root, "logs"));
    const runs = [
      { name: "lr0.1", lr: 0.1 },
      { name: "lr0.2", lr: 0.2 },
      { name: "lr0.4", lr: 0.4 },
    ].map((r, i) => ({ ...r, i, dir: join(root, "runs", r.name), jobName: `sp-archive-${tag}-${r.name}` }));

    for (const r of runs) {
      mkdirSync(r.dir, { recursive: true });
      const out = await execa("sbatch", [
        "--parsable",
        "-J", r.jobName,
        "-D", r.dir,
        "-o", join(root, "logs", "%x-%j.out"),
        "-e", join(root, "logs", "%x-%j.err"),
        "-t", "00:02:00",
        script, String(r.lr), String(r.i),
      ]);
      const id = out.stdout.trim().split(";")[0]!;
      submitted.push(id);
      Object.assign(r, { jobId: id });
    }
    const states = await waitForJobs(submitted, 150_000);
    for (const id of submitted) expect(states.get(id)).toBe("COMPLETED");

    // Run records as the pipeline would carry them (built by hand here).
    const input = runs
      .map((r) =>
        JSON.stringify({
          id: `it-${tag}-${r.name}`,
          name: r.name,
          group: `sp-archive-it`,
          params: { lr: r.lr },
          dir: r.dir,
          outputs: ["checkpoints/*.ckpt", "metrics.csv"],
          logs: { stdout: join(root, "logs", "%x-%j.out"), stderr: join(root, "logs", "%x-%j.err") },
          job: { id: (r as unknown as { jobId: string }).jobId, name: r.jobName },
        }),
      )
      .join("\n");
    const out = join(root, "archives");
    const packed = await runCli("archive", ["--out", out, "--format", "tar.gz", "--now", "2025-06-01T12:00:00Z"], { input });
    expect(packed.stderr).not.toMatch(/error/);
    expect(packed.exitCode).toBe(0);
    const recs = records(packed.stdout);
    const entries = recs.filter((r) => r.kind === "archive-entry");
    // 3 runs x (checkpoint, metrics.csv, stdout log, stderr log) + the consolidated dataset (3 files: NDJSON, CSV, Parquet).
    expect(entries).toHaveLength(15);
    const summary = recs.at(-1)!;
    expect(summary).toMatchObject({ kind: "archive-summary", format: "tar.gz", files: 15 });
    const tarball = String(summary.archive);
    expect(tarball).toBe(join(out, "sp-archive-it-20250601T120000Z.tar.gz"));
    for (const r of runs) {
      const mine = entries.filter((e) => e.run_id === `it-${tag}-${r.name}`).map((e) => e.path).sort();
      expect(mine).toEqual([
        `runs/${r.name}/_logs/${r.jobName}-${(r as unknown as { jobId: string }).jobId}.err`,
        `runs/${r.name}/_logs/${r.jobName}-${(r as unknown as { jobId: string }).jobId}.out`,
        `runs/${r.name}/checkpoints/model.ckpt`,
        `runs/${r.name}/metrics.csv`,
      ]);
    }
    expect(entries.find((e) => e.path === "runs/lr0.2/checkpoints/model.ckpt")).toMatchObject({ compressed: "gzip", stored_as: "runs/lr0.2/checkpoints/model.ckpt.gz", role: "checkpoint" });

    // Remember the originals, then delete them.
    const originals = new Map(entries.filter((e) => e.source).map((e) => [String(e.path), sha(String(e.source))]));
    expect(originals.size).toBe(12);
    rmSync(join(root, "runs"), { recursive: true });
    rmSync(join(root, "logs"), { recursive: true });

    const verified = await runCli("archive", ["--verify", tarball]);
    expect(verified.exitCode).toBe(0);

    const to = join(root, "restored");
    const restored = await runCli("archive", ["--restore", tarball, "--to", to]);
    expect(restored.stderr).not.toMatch(/error/);
    expect(restored.exitCode).toBe(0);
    for (const [path, digest] of originals) expect(sha(join(to, path))).toBe(digest);
    const csv = readFileSync(join(to, "metrics.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("run_id,name,variant,lr,step,epoch,train_loss,val_loss");
    expect(csv).toHaveLength(1 + 3 * 2);
    expect(readdirSync(to).sort()).toEqual(["metrics.csv", "metrics.ndjson", "metrics.parquet", "runs"]);

    // One checkpoint alone, into an empty directory.
    const single = await runCli("archive", ["--restore", tarball, "--to", join(root, "single"), "--only", "runs/lr0.4/checkpoints/model.ckpt"]);
    expect(single.exitCode).toBe(0);
    expect(sha(join(root, "single/runs/lr0.4/checkpoints/model.ckpt"))).toBe(originals.get("runs/lr0.4/checkpoints/model.ckpt"));

    // Re-archive the restored runs as a directory archive, flip one byte in a stored checkpoint.
    const again = await runCli("archive", [join(to, "runs", "lr0.1"), "--out", out, "--name", "flip", "--now", "2025-06-01T12:00:00Z"]);
    expect(again.exitCode).toBe(0);
    const dirArchive = join(out, "flip-20250601T120000Z");
    const victim = join(dirArchive, "runs/lr0.1/checkpoints/model.ckpt.gz");
    const bytes = readFileSync(victim);
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = bytes[mid]! ^ 0x01;
    writeFileSync(victim, bytes);
    const caught = await runCli("archive", ["--verify", dirArchive]);
    expect(caught.exitCode).toBe(1);
    expect(caught.stderr).toMatch(/runs\/lr0\.1\/checkpoints\/model\.ckpt/);
    const bad = records(caught.stdout).filter((r) => r.kind === "archive-verify" && r.ok === false);
    expect(bad.map((r) => r.path)).toEqual(["runs/lr0.1/checkpoints/model.ckpt"]);

    // And in the tarball: flip a byte of the compressed stream; verify fails naming the file it reached.
    const tb = readFileSync(tarball);
    const tmid = Math.floor(tb.length / 2);
    tb[tmid] = tb[tmid]! ^ 0x01;
    writeFileSync(tarball, tb);
    const caughtTar = await runCli("archive", ["--verify", tarball]);
    expect(caughtTar.exitCode).toBe(1);
    expect(caughtTar.stderr).toMatch(/runs\/lr0\.[124]\//);
  });
});
