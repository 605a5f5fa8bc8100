import { type JobState, type RunRecord, isNeverSatisfiedReason, parseState } from "@slurmpipe/core";
import type { EventState } from "./fields.ts";

/**
 * The state a report shows for a job: the newest of what the run record says and what the last
 * poll event says. While a job runs, slurm-poll writes only events (the run record comes when the
 * job ends), so a table refreshed from `submitted.ndjson poll.ndjson` during the run must take its
 * state from the events, or it shows "UNKNOWN / not polled yet" for the whole run.
 *
 * Which is newer is decided by time, never by the order of the input files: the event's `at` (when
 * slurm-poll saw the change) against the state's `confirmed_at` (when squeue or sacct last
 * confirmed it). A state without `confirmed_at` (made by hand or by an older slurm-poll) wins when
 * it is terminal (a job that ended stays ended) and loses to the event otherwise.
 */
export function currentState(record: RunRecord, event: EventState | undefined): JobState | undefined {
  const state = record.state;
  if (!event || (event.run_id && event.run_id !== record.id)) return state;
  // The same state as the record's (slurm-poll writes both in the cycle that ends a job): the record has more (exit code, MaxRSS, ...).
  if (state && (!eventIsNewer(state, event) || parseState(event.to).state === parseState(state.state).state)) return withSlurmTimes(state, event);
  return stateOfEvent(event, state);
}

/** A current state without Slurm's start (or end) time takes it from an older event of the same job. */
function withSlurmTimes(state: JobState, event: EventState): JobState {
  const started = !state.started_at && event.started_at && state.category !== "pending" && state.category !== "blocked";
  const ended = !state.ended_at && event.ended_at && state.terminal;
  if (!started && !ended) return state;
  return { ...state, ...(started ? { started_at: event.started_at } : {}), ...(ended ? { ended_at: event.ended_at } : {}) };
}

function eventIsNewer(state: JobState, event: EventState): boolean {
  if (!state.confirmed_at) return !state.terminal;
  const confirmed = Date.parse(state.confirmed_at);
  const at = Date.parse(event.at);
  if (Number.isNaN(confirmed) || Number.isNaN(at)) return !state.terminal;
  return at > confirmed;
}

/** An event as a state. Limits and requests (time, memory) do not change with the state: kept from the older state. */
function stateOfEvent(event: EventState, older: JobState | undefined): JobState {
  const parsed = parseState(event.to);
  const state: JobState = { state: event.to, category: event.category ?? categoryOf(parsed.category, event.reason), terminal: parsed.terminal, confirmed_at: event.at };
  if (event.reason) state.reason = event.reason;
  if (event.exit_code) state.exit_code = event.exit_code;
  // Slurm's own start and end, never the poll time: a table that shows when slurm-poll noticed a
  // start as the start is wrong by up to a poll interval, and by hours for a watch started late.
  const started = event.started_at ?? (state.category !== "pending" && state.category !== "blocked" ? older?.started_at : undefined);
  if (started) state.started_at = started;
  if (event.ended_at && parsed.terminal) state.ended_at = event.ended_at;
  if (event.blocked_by) state.blocked_by = event.blocked_by;
  if (older?.time_limit_s !== undefined) state.time_limit_s = older.time_limit_s;
  if (older?.req_mem_bytes !== undefined) state.req_mem_bytes = older.req_mem_bytes;
  return state;
}

/** Old events carry no category: derived from the state as slurm-poll derives it (a never-satisfiable dependency is "blocked"). */
function categoryOf(category: JobState["category"], reason: string | undefined): JobState["category"] {
  return category === "pending" && isNeverSatisfiedReason(reason) ? "blocked" : category;
}

/** The record with its current state (the same object when the record's own state is current). */
export function withCurrentState(record: RunRecord, event: EventState | undefined): RunRecord {
  const state = currentState(record, event);
  return state === record.state ? record : { ...record, state: state! };
}
