import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { type SummaryIo, type SummaryOptions, summarize } from "../src/index.ts";

export function tempDir(prefix = "summary-md-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeNdjson(path: string, records: readonly unknown[]): string {
  writeFileSync(path, records.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join("\n") + "\n");
  return path;
}

/** Runs the library in-process with captured stdout/stderr. */
export async function run(options: Partial<SummaryOptions> & { stdinText?: string }, io: SummaryIo = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => (out += c));
  stderr.on("data", (c) => (err += c));
  const { stdinText, ...rest } = options;
  const code = await summarize(
    { inputs: [], ...rest },
    { stdin: Readable.from([stdinText ?? ""]), stdout, stderr, env: {}, ...io },
  );
  return { code, stdout: out, stderr: err };
}
