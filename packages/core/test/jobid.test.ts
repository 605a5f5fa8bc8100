import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JobIdError, parseJobId, parseSbatchParsable } from "../src/index.ts";

describe("job ids", () => {
  it.each([
    ["123", { jobId: 123 }],
    ["123_7", { jobId: 123, arrayTask: 7 }],
    ["123_[0-9]", { jobId: 123, taskSpec: "0-9", arrayTasks: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }],
    ["123_[1,3-5%2]", { jobId: 123, taskSpec: "1,3-5%2", arrayTasks: [1, 3, 4, 5], throttle: 2 }],
    ["123_[0-8:4]", { jobId: 123, arrayTasks: [0, 4, 8] }],
    ["123+1", { jobId: 123, hetOffset: 1 }],
    ["123.batch", { jobId: 123, step: "batch" }],
    ["123.0", { jobId: 123, step: "0" }],
    ["123_4.batch", { jobId: 123, arrayTask: 4, step: "batch" }],
    ["123;cluster", { jobId: 123, cluster: "cluster" }],
  ])("parses %s", (text, expected) => {
    expect(parseJobId(text)).toMatchObject(expected);
  });
  it("keeps a squeue-truncated array record without inventing tasks", () => {
    const id = parseJobId("175_[1-3,10,20-22%");
    expect(id.jobId).toBe(175);
    expect(id.arrayTasks).toBeUndefined();
  });
  it.each(["", "abc", "12a", "_1", "1__2", "1_[a-b]"])("rejects %j", (text) => {
    expect(() => parseJobId(text)).toThrow(JobIdError);
  });
  it("reads sbatch --parsable output", () => {
    expect(parseSbatchParsable("109\n")).toEqual({ jobId: "109" });
    expect(parseSbatchParsable("110;local\n")).toEqual({ jobId: "110", cluster: "local" });
    expect(() => parseSbatchParsable("Submitted batch job 1\n")).toThrow(JobIdError);
  });
  it("reads back ids as Slurm prints them (property)", () => {
    fc.assert(
      fc.property(fc.nat(), fc.option(fc.nat({ max: 100000 }), { nil: undefined }), (jobId, arrayTask) => {
        const text = arrayTask === undefined ? String(jobId) : `${jobId}_${arrayTask}`;
        const back = parseJobId(text);
        expect(back.jobId).toBe(jobId);
        expect(back.arrayTask).toBe(arrayTask);
      }),
    );
  });
  it("never throws anything but JobIdError on arbitrary text (property)", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          parseJobId(s);
        } catch (e) {
          expect(e).toBeInstanceOf(JobIdError);
        }
      }),
    );
  });
});
