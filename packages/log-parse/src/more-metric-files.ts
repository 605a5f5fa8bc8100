import { dirname } from "node:path";
import { eventFilesBeside, findNewestEvents } from "./tfevents.ts";
import { findTorchtuneLog } from "./torchtune-log.ts";

/**
 * The TensorBoard event files and torchtune DiskLogger file report.ts reads under a run's `dir`,
 * for the `--state` cache (cache.ts): the events directory itself (a new event file changes it),
 * each event file, the DiskLogger file.
 */
export async function moreMetricInputs(dir: string): Promise<string[]> {
  const out: string[] = [];
  const events = await findNewestEvents(dir);
  if (events) out.push(dirname(events), ...(await eventFilesBeside(events)));
  const tt = await findTorchtuneLog(dir);
  if (tt) out.push(tt);
  return out;
}
