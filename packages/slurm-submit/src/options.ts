import type { Logger, SlurmClientOptions } from "@slurmpipe/core";
import type { Clock } from "./pacer.ts";
import type { ResubmitMode, Selector } from "./select.ts";

export interface SubmitOptions {
  /** Input files; none or "-" = stdin. */
  inputs?: string[];
  stdin?: AsyncIterable<Buffer | string>;
  stdout: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  log: Logger;
  cwd?: string;
  /** State directory; default `<cwd>/.slurmpipe`. */
  stateDir?: string;
  dryRun?: boolean;
  strict?: boolean;
  resubmit?: ResubmitMode;
  resubmitWhere?: Selector[];
  only?: Selector[];
  staggerMs?: number;
  rate?: { count: number; periodMs: number };
  maxInFlight?: number;
  /** How often to look again while --max-in-flight jobs are active. Default 20 s. */
  inFlightIntervalMs?: number;
  /** Extra sbatch options, placed before the script path. */
  sbatchArgs?: string[];
  client?: SlurmClientOptions;
  /** sbatch calls per run on transient failures (each after reconciling by tag). Default 5. */
  submitAttempts?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Wait this long for another process's lock (0 = refuse at once). */
  waitLockMs?: number;
  lockStaleMs?: number;
  /** An intent younger than this that is not found is looked up once more (sacct lags). Default 60 s. */
  recentIntentMs?: number;
  /** Pause before that second look. Default 3 s. */
  confirmDelayMs?: number;
  /** Longest wait for an orphaned sbatch of a killed run to end. Default 180 s. */
  orphanWaitMs?: number;
  clock?: Clock;
  host?: string;
}

export interface SubmitSummary {
  submitted: number;
  reconciled: number;
  skipped: number;
  resubmitted: number;
  failed: number;
  uncertain: number;
  passed: number;
  badLines: number;
  dryRun: number;
  sbatchCalls: number;
}
