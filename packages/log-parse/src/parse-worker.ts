/**
 * The body of a `--jobs` worker thread (pool.ts): parses the records it is sent, one at a time,
 * with the same library functions as the main thread, and posts each report back. Bundled into a
 * text (worker-source.ts) that the pool starts with `eval`, so it needs no file beside the command
 * (the standalone build and the single executable have none).
 */
import { parentPort, workerData } from "node:worker_threads";
import { IncrementalStore } from "./incremental.ts";
import { reportForRecord } from "./report.ts";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./pool.ts";

const port = parentPort;
if (!port) throw new Error("parse-worker: not started as a worker thread");
const init = workerData as WorkerInit;
const incremental = init.state ? new IncrementalStore(init.state, (message) => port.postMessage({ warn: message } satisfies WorkerReply)) : undefined;

port.on("message", (m: WorkerRequest) => {
  if (m.done) {
    // The state files still being written are written before the worker says it is done.
    void (incremental?.flush() ?? Promise.resolve()).then(() => {
      port.postMessage({ stats: incremental?.stats } satisfies WorkerReply);
      port.close();
    });
    return;
  }
  reportForRecord(m.record, init.options, incremental).then(
    (report) => port.postMessage({ id: m.id, report } satisfies WorkerReply),
    (e: Error) => port.postMessage({ id: m.id, error: e.message } satisfies WorkerReply),
  );
});
