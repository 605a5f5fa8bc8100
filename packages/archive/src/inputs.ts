import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { ErrorCounter, InputError, RunRecord, UsageError, contentId, readNdjsonInputs, zodField } from "@slurmpipe/core";
import { type RunInput, assignPrefixes } from "./collect.ts";

export interface InputOptions {
  stdin: AsyncIterable<Buffer | string>;
  stderr: NodeJS.WritableStream;
  strict: boolean;
  cwd: string;
}

const RECORD_FILE = /\.(ndjson|jsonl|json)$/i;

/**
 * Positional arguments: `-` or *.ndjson/*.jsonl/*.json are run-record files (stdin when there are
 * none); a directory is archived as one run named after it; any other file is archived as-is
 * under `files/`. Bad record lines are reported (file:line: field) and skipped.
 */
export async function readRuns(args: string[], options: InputOptions): Promise<{ runs: RunInput[]; badLines: number }> {
  const recordFiles: string[] = [];
  const dirs: string[] = [];
  const loose: string[] = [];
  for (const a of args) {
    if (a === "-" || RECORD_FILE.test(a)) {
      recordFiles.push(a);
      continue;
    }
    const st = await stat(resolve(options.cwd, a)).catch(() => undefined);
    if (!st) throw new UsageError(`${a}: no such file or directory`);
    (st.isDirectory() ? dirs : loose).push(resolve(options.cwd, a));
  }
  const records: RunRecord[] = [];
  const counter = new ErrorCounter("archive", options.stderr);
  if (recordFiles.length > 0 || args.length === 0) {
    for await (const item of readNdjsonInputs(recordFiles.map((f) => (f === "-" ? f : resolve(options.cwd, f))), {
      stdin: options.stdin,
      strict: options.strict,
      onError: counter.report,
    })) {
      // Only run records carry files; other kinds in the stream (poll events, ...) pass by.
      const kind = item.value.kind;
      if (kind !== undefined && kind !== "run") continue;
      const parsed = RunRecord.safeParse(item.value);
      if (!parsed.success) {
        const err = { source: item.source, line: item.line, ...zodField(parsed.error) };
        if (options.strict) throw new InputError(err);
        counter.report(err);
        continue;
      }
      records.push(parsed.data);
    }
  }
  for (const d of dirs) records.push({ id: contentId(d), name: basename(d) || "root", dir: d });
  const runs = assignPrefixes(records);
  if (loose.length > 0) {
    runs.push({ record: { id: contentId(loose), name: "files" }, prefix: "files", files: loose });
  }
  return { runs, badLines: counter.count };
}
