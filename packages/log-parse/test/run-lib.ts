import { PassThrough, Readable } from "node:stream";
import { createLogger } from "@slurmpipe/core";
import { type LogParseArgs, logParse } from "../src/index.ts";

/** Runs the log-parse library in-process in `cwd`, with `input` on stdin; records and stderr back. */
export async function runLogParse(cwd: string, args: LogParseArgs, input = "", logging: { verbose?: boolean } = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const code = await logParse(args, { stdin: Readable.from([input]), stdout, stderr, log: createLogger("log-parse", logging.verbose ? { stderr, verbose: true } : { stderr, quiet: true }), cwd });
  return { code, records: out.split("\n").filter(Boolean).map((l) => JSON.parse(l)), stderr: err };
}
