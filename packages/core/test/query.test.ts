import { describe, expect, it } from "vitest";
import { SACCT_BY_ID_FIELDS, SQUEUE_BY_ID_FIELDS, SQUEUE_BY_NAME_FIELDS, SlurmOutputError, isSlurmNull, sacctFormat, slurmFields, slurmTimeArg, squeueFormat } from "../src/index.ts";

describe("core's Slurm query rules", () => {
  it("every format ends with the job name, the only free text", () => {
    for (const f of [SQUEUE_BY_ID_FIELDS, SQUEUE_BY_NAME_FIELDS]) expect(f.at(-1)).toBe("%j");
    expect(SACCT_BY_ID_FIELDS.at(-1)).toBe("JobName");
    expect(squeueFormat(SQUEUE_BY_NAME_FIELDS)).toBe("%i|%T|%V|%j");
    expect(sacctFormat(["JobID", "JobName"])).toBe("JobID,JobName");
  });

  it("a name holding | stays one field; the others are trimmed", () => {
    expect(slurmFields(" 12 |RUNNING| 2026-01-01T00:00:00|a|b ", 4, "squeue")).toEqual(["12", "RUNNING", "2026-01-01T00:00:00", "a|b "]);
  });

  it("a line with fields missing is an error naming the command and the line, never a guess", () => {
    expect(() => slurmFields("12 RUNNING", 4, "squeue")).toThrow(SlurmOutputError);
    expect(() => slurmFields("12|RUNNING", 4, "sacct")).toThrow('sacct printed a line that does not have the 4 requested fields: "12|RUNNING"');
  });

  it("knows every spelling of no value, and nothing else", () => {
    for (const s of ["", " ", "(null)", "N/A", "None", "NONE", "None assigned", "Unknown"]) expect(isSlurmNull(s), s).toBe(true);
    for (const s of ["0", "node1", "UNKNOWN state", "Resources", "none-such"]) expect(isSlurmNull(s), s).toBe(false);
  });

  it("formats -S times as local time without a zone", () => {
    const d = new Date(2026, 0, 2, 3, 4, 5);
    expect(slurmTimeArg(d)).toBe("2026-01-02T03:04:05");
    expect(slurmTimeArg(d.getTime())).toBe("2026-01-02T03:04:05");
  });
});
