import { readFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { createLogger } from "@slurmpipe/core";
import { type SweepGenOptions, sweepGen } from "../src/index.ts";

export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
export const fixtures = fileURLToPath(new URL("./fixtures", import.meta.url));
export const tier3 = `${repoRoot}examples/tier3.yaml`;

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
  lines: string[];
  records: Record<string, unknown>[];
}

/** Runs the library in-process; `files` serves sweep files by path (else the file system). */
export async function run(opts: SweepGenOptions, files: Record<string, string> = {}, cwd = repoRoot): Promise<Result> {
  const stdout = new PassThrough();
  let out = "";
  stdout.on("data", (d: Buffer) => {
    out += d.toString("utf8");
  });
  let err = "";
  const write = (s: string) => {
    err += s;
    return true;
  };
  const stderr = { isTTY: false, write } as unknown as NodeJS.WritableStream;
  const log = createLogger("sweep-gen", { stderr, env: {} });
  const code = await sweepGen(opts, { stdout, log, cwd, readFile: (p) => files[p] ?? readFileSync(p, "utf8") });
  stdout.end();
  await new Promise((r) => setImmediate(r));
  const lines = out.split("\n").filter((l) => l !== "");
  const records = opts.count ? [] : lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, stdout: out, stderr: err, lines, records };
}

/** A sweep file given inline. */
export function sweep(text: string, opts: SweepGenOptions = {}, source = "sweep.yaml"): Promise<Result> {
  return run({ ...opts, file: source }, { [source]: text });
}
