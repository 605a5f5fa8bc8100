import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { createLogger } from "@slurmpipe/core";
import { type ArchiveArgs, runArchive } from "../src/index.ts";

const created: string[] = [];
export function tempDir(prefix = "sp-archive-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}
/** Removes every directory tempDir() made (call from afterAll). */
export function cleanup(): void {
  for (const d of created.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function write(path: string, data: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

export const sha = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
export const fileSha = (path: string) => sha(readFileSync(path));

export function flipByte(path: string, offset: number): void {
  const buf = readFileSync(path);
  buf[offset] = buf[offset]! ^ 0xff;
  writeFileSync(path, buf);
}

export const DEFAULTS: ArchiveArgs = {
  inputs: [],
  out: "archives",
  format: "dir",
  compressOver: "64MiB",
  outputsOnly: false,
  exclude: [],
  allowMissing: false,
  checkOnly: false,
  incremental: false,
  rehash: false,
  pruneSources: false,
  verifyAfter: false,
  outlierRatio: 0.5,
  dataset: true,
  only: [],
  force: false,
  strict: false,
};

export interface RunResult {
  code: number;
  records: Record<string, unknown>[];
  stderr: string;
}

/** Runs the command in-process with `input` on stdin. */
export async function archive(args: Partial<ArchiveArgs>, options: { cwd: string; input?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => (out += c));
  stderr.on("data", (c) => (err += c));
  const stdin = Readable.from(options.input !== undefined ? [options.input] : []) as unknown as AsyncIterable<Buffer | string>;
  const code = await runArchive(
    { ...DEFAULTS, ...args },
    { stdin, stdout, stderr, log: createLogger("archive", { stderr }), env: options.env ?? {}, cwd: options.cwd },
  ).catch((e: Error) => {
    err += `${e.name}: ${e.message}\n`;
    return e.name === "UsageError" ? 2 : 1;
  });
  return { code, records: out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), stderr: err };
}

/** Two runs with checkpoints, metrics.csv, a config and a log outside the run directories. */
export function makeSweep(root: string): { records: Record<string, unknown>[]; input: string } {
  const runs = [
    { id: "id-a", name: "lr0.1", lr: 0.1 },
    { id: "id-b", name: "lr0.2", lr: 0.2 },
  ];
  const records = runs.map((r, i) => {
    const dir = join(root, "runs", r.name);
    write(join(dir, "checkpoints", "model.ckpt"), randomBytes(200_000 + i));
    write(join(dir, "metrics.csv"), `epoch,step,train_loss,val_loss\n0,10,${2 - r.lr},\n0,10,,${1.5 - r.lr}\n1,20,${1 - r.lr},\n`);
    write(join(dir, "hparams.yaml"), `lr: ${r.lr}\n`);
    write(join(root, "logs", `${r.name}-${100 + i}.out`), `Epoch 0: loss=${r.lr}\n`);
    return {
      id: r.id,
      name: r.name,
      group: "lr-sweep",
      variant: "S-core",
      params: { lr: r.lr, seed: i },
      dir,
      outputs: ["checkpoints/*.ckpt", "metrics.csv"],
      logs: { stdout: join(root, "logs", "%x-%j.out") },
      job: { id: String(100 + i), name: r.name },
    };
  });
  return { records, input: `${records.map((r) => JSON.stringify(r)).join("\n")}\n` };
}
