import { describe, expect, it } from "vitest";
import { JOB_STATES, parseState } from "../src/index.ts";

// Every state of Slurm 22.05-25.x with its compact form and the class slurmpipe gives it.
const TABLE: [string, string, string, boolean][] = [
  ["PENDING", "PD", "pending", false],
  ["RUNNING", "R", "active", false],
  ["COMPLETING", "CG", "active", false],
  ["COMPLETED", "CD", "success", true],
  ["FAILED", "F", "failure", true],
  ["CANCELLED", "CA", "failure", true],
  ["TIMEOUT", "TO", "failure", true],
  ["OUT_OF_MEMORY", "OOM", "failure", true],
  ["NODE_FAIL", "NF", "failure", true],
  ["PREEMPTED", "PR", "failure", true],
  ["BOOT_FAIL", "BF", "failure", true],
  ["DEADLINE", "DL", "failure", true],
  ["REQUEUED", "RQ", "pending", false],
  ["REQUEUE_HOLD", "RH", "pending", false],
  ["REQUEUE_FED", "RF", "pending", false],
  ["RESIZING", "RS", "active", false],
  ["REVOKED", "RV", "uncertain", true],
  ["SPECIAL_EXIT", "SE", "pending", false],
  ["SUSPENDED", "S", "active", false],
  ["STOPPED", "ST", "active", false],
  ["SIGNALING", "SI", "active", false],
  ["STAGE_OUT", "SO", "active", false],
  ["CONFIGURING", "CF", "active", false],
  ["RESV_DEL_HOLD", "RD", "pending", false],
];

describe("job states", () => {
  it("covers every state in the table", () => {
    for (const [long] of TABLE) expect(JOB_STATES[long]).toBeDefined();
  });
  it.each(TABLE)("%s / %s is %s (terminal=%s)", (long, compact, category, terminal) => {
    for (const text of [long, compact, long.toLowerCase(), ` ${compact} `]) {
      const p = parseState(text);
      expect(p).toMatchObject({ state: long, category, terminal, known: true });
    }
  });
  it("reads sacct's 'CANCELLED by <uid>'", () => {
    expect(parseState("CANCELLED by 1234")).toMatchObject({ state: "CANCELLED", cancelledBy: 1234, terminal: true });
    expect(parseState("CANCELLED by 0").cancelledBy).toBe(0);
  });
  it("reads width-truncated states", () => {
    expect(parseState("OUT_OF_ME+")).toMatchObject({ state: "OUT_OF_MEMORY", truncated: true });
    expect(parseState("CANCELLED+")).toMatchObject({ state: "CANCELLED" });
  });
  it("lets flag states win in JSON arrays, as Slurm prints them", () => {
    expect(parseState(["PENDING", "REQUEUED"]).state).toBe("REQUEUED");
    expect(parseState(["COMPLETED", "COMPLETING"]).state).toBe("COMPLETING");
    expect(parseState(["RUNNING"]).state).toBe("RUNNING");
  });
  it("never guesses an unknown state", () => {
    expect(parseState("allocation")).toMatchObject({ state: "UNKNOWN", category: "uncertain", terminal: false, known: false });
    expect(parseState("")).toMatchObject({ state: "UNKNOWN" });
  });
});
