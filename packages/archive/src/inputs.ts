import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { ErrorCounter, InputError, RunRecord, UsageError, contentId, readNdjsonInputs, zodField } from "@slurmpipe/core";
import { type LedgerAttempts, runAttempts } from "./attempts.ts";
import { type RunInput, assignPrefixes } from "./collect.ts";

export interface InputOptions {
  stdin: AsyncIterable<Buffer | string>;
  stderr: NodeJS.WritableStream;
  strict: boolean;
  cwd: string;
  /** Reads the ledger's attempts of these runs (see attempts.ts); none without a state directory. */
  ledger?: (runIds: ReadonlySet<string>) => Promise<LedgerAttempts>;
}

const RECORD_FILE = /\.(ndjson|jsonl|json)$/i;

/**
 * Positional arguments: `-` or *.ndjson/*.jsonl/*.json are run-record files (stdin when there are
 * none); a directory is archived as one run named after it; any other file is archived as-is
 * under `files/`. Bad record lines are reported (file:line: field) and skipped. Records of one run
 * id are one run (its attempts, see attempts.ts): the last record of the highest attempt is the
 * run's record, the others are its earlier attempts.
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
  const byId = new Map<string, RunRecord[]>();
  for (const r of records) {
    const list = byId.get(r.id);
    if (list) list.push(r);
    else byId.set(r.id, [r]);
  }
  const latest = [...byId.values()].map((list) => list.reduce((best, r) => ((r.job?.attempt ?? 0) >= (best.job?.attempt ?? 0) ? r : best)));
  for (const d of dirs) latest.push({ id: contentId(d), name: basename(d) || "root", dir: d });
  const runs = assignPrefixes(latest);
  const ledger = options.ledger ? await options.ledger(new Set(byId.keys())) : undefined;
  for (const run of runs) {
    const attempts = runAttempts(byId.get(run.record.id) ?? [], ledger?.get(run.record.id));
    if (attempts) run.attempts = attempts;
  }
  if (loose.length > 0) {
    runs.push({ record: { id: contentId(loose), name: "files" }, prefix: "files", files: loose });
  }
  return { runs, badLines: counter.count };
}
