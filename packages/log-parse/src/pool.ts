import { Worker } from "node:worker_threads";
import type { LogReport, RunRecord } from "@slurmpipe/core";
import type { IncrementalStats } from "./incremental.ts";
import type { ReportOptions } from "./report.ts";

/**
 * `--jobs N`: records' logs parsed on N worker threads (parse-worker.ts), each taking the next
 * record when it is free; the caller writes the reports in input order. Each worker keeps its own
 * incremental store over the same --state directory (a record's state file is its own, so two
 * workers never write the same one). Remote logs are not parsed here (index.ts keeps --remote in
 * the main thread: its copies go through the one ssh connection).
 */
export interface WorkerInit {
  options: ReportOptions;
  state?: string;
}
export type WorkerRequest = { done: true } | { done?: undefined; id: number; record: Partial<RunRecord> };
export type WorkerReply = { warn: string } | { stats: IncrementalStats | undefined } | { id: number; report: LogReport } | { id: number; error: string };

interface Pending {
  resolve: (r: LogReport) => void;
  reject: (e: Error) => void;
}

export class ParsePool {
  private readonly idle: Worker[] = [];
  private readonly queue: { id: number; record: Partial<RunRecord> }[] = [];
  private readonly pending = new Map<number, Pending & { worker: Worker }>();
  private readonly workers: Worker[] = [];
  private readonly exited = new Set<Worker>();
  private nextId = 0;
  private broken: Error | undefined;

  /**
   * The worker's text (half a megabyte) is imported here, not with the library: a run without
   * --jobs never reads or compiles it (bench 8: a cron tick's start).
   */
  static async start(size: number, init: WorkerInit, warn: (message: string) => void): Promise<ParsePool> {
    const { parseWorkerSource } = await import("./worker-source.ts");
    return new ParsePool(size, init, warn, parseWorkerSource());
  }

  private constructor(
    size: number,
    init: WorkerInit,
    private readonly warn: (message: string) => void,
    source: string,
  ) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(source, { eval: true, workerData: init });
      w.on("message", (m: WorkerReply) => this.reply(w, m));
      // A worker that dies (out of memory, a bug) fails the records it held, and the pool.
      w.on("error", (e) => this.fail(w, e));
      w.on("exit", (code) => {
        this.exited.add(w);
        if (code !== 0) this.fail(w, new Error(`a --jobs worker exited with code ${code}`));
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  report(record: Partial<RunRecord>): Promise<LogReport> {
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    return new Promise<LogReport>((resolve, reject) => {
      this.queue.push({ id, record });
      this.pending.set(id, { resolve, reject, worker: undefined as unknown as Worker });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.pending.get(job.id)!.worker = w;
      w.postMessage({ id: job.id, record: job.record } satisfies WorkerRequest);
    }
  }

  private reply(w: Worker, m: WorkerReply): void {
    if ("warn" in m) {
      this.warn(m.warn);
      return;
    }
    if ("stats" in m) return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.idle.push(w);
    this.dispatch();
    if ("error" in m) p.reject(new Error(m.error));
    else p.resolve(m.report);
  }

  private fail(w: Worker, e: Error): void {
    this.broken ??= e;
    for (const [id, p] of this.pending) {
      if (p.worker !== w && this.queue.every((q) => q.id !== id)) continue;
      this.pending.delete(id);
      p.reject(e);
    }
  }

  /** Ends the workers; their incremental stats, summed. */
  async close(): Promise<IncrementalStats> {
    const sum: IncrementalStats = { logs: 0, resumed: 0, fromStart: 0, scanned: 0, hashed: 0, total: 0 };
    await Promise.all(
      this.workers.filter((w) => !this.exited.has(w)).map(
        (w) =>
          new Promise<void>((resolve) => {
            w.on("message", (m: WorkerReply) => {
              if ("stats" in m && m.stats) for (const k of Object.keys(sum) as (keyof IncrementalStats)[]) sum[k] += m.stats[k];
            });
            w.once("exit", () => resolve());
            w.postMessage({ done: true } satisfies WorkerRequest);
          }),
      ),
    );
    return sum;
  }
}
