import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { createLogger } from "@slurmpipe/core";
import { type RenderOptions, render } from "../src/index.ts";

export function tempDir(prefix = "sr-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

class Collect extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export interface RenderResult {
  code: number;
  records: Record<string, unknown>[];
  stderr: string;
}

/** Runs the library on in-memory records, as the CLI would on stdin. */
export async function renderRecords(
  input: (Record<string, unknown> | string)[],
  options: Partial<Omit<RenderOptions, "stdout" | "log">> & { cwd: string },
): Promise<RenderResult> {
  const stdin = new PassThrough();
  stdin.end(input.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join("\n") + "\n");
  const stdout = new Collect();
  const stderr = new Collect();
  const log = createLogger("slurm-render", { stderr: stderr as unknown as NodeJS.WritableStream, env: { NO_COLOR: "1" } });
  const code = await render({ profile: "generic", readMaxArraySize: async () => undefined, ...options, stdin, stdout, stderr, log });
  const records = stdout.text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, records, stderr: stderr.text };
}

export function run(name: string, command: string[] | string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const id = Buffer.from(name).toString("hex").padEnd(12, "0").slice(0, 12);
  return { id, name, params: {}, command, ...extra };
}
