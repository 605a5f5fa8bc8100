import { describe, expect, it } from "vitest";
import { dependencyJobIds, describeParamChanges, isNeverSatisfiedReason, paramChanges } from "../src/index.ts";

describe("a dependency that can never be satisfied", () => {
  it("is told by squeue's reason, with or without parentheses, in any case", () => {
    expect(isNeverSatisfiedReason("DependencyNeverSatisfied")).toBe(true);
    expect(isNeverSatisfiedReason("(DependencyNeverSatisfied)")).toBe(true);
    expect(isNeverSatisfiedReason("Dependency")).toBe(false);
    expect(isNeverSatisfiedReason(undefined)).toBe(false);
  });

  it("names the failed upstream jobs from squeue %E as Slurm 22.05 prints it (slurm-facts.md §7.4)", () => {
    expect(dependencyJobIds("afterok:167(failed)", true)).toEqual(["167"]);
    expect(dependencyJobIds("afterok:136(unfulfilled)", true)).toEqual([]);
    expect(dependencyJobIds("afterok:136(unfulfilled),afternotok:150(failed)", true)).toEqual(["150"]);
    expect(dependencyJobIds("after:151+5(unfulfilled)")).toEqual(["151"]);
    expect(dependencyJobIds("afterok:12_3(failed):14(failed)", true)).toEqual(["12_3", "14"]);
    expect(dependencyJobIds("singleton(unfulfilled)")).toEqual([]);
    expect(dependencyJobIds("(null)")).toEqual([]);
  });
});

describe("parameters that differ from the sweep's", () => {
  it("lists changed, added and removed keys, and nothing for records without sweep_params", () => {
    const changes = paramChanges({ params: { lr: 0.1, wd: 0, seed: 1, extra: "x" }, sweep_params: { lr: 0.2, wd: 0, seed: 1, gone: true } });
    expect(changes).toEqual([
      { key: "extra", sweep: undefined, ran: "x" },
      { key: "gone", sweep: true, ran: undefined },
      { key: "lr", sweep: 0.2, ran: 0.1 },
    ]);
    expect(describeParamChanges(changes)).toBe("extra=x (sweep: unset), gone=unset (sweep: true), lr=0.1 (sweep: 0.2)");
    expect(paramChanges({ params: { lr: 0.1 } })).toEqual([]);
    expect(paramChanges({ params: { a: { b: 1, c: 2 } }, sweep_params: { a: { c: 2, b: 1 } } })).toEqual([]);
  });
});
