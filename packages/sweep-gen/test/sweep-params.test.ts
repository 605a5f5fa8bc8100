import { paramChanges } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { run, sweep, tier3 } from "./helpers.ts";

describe("sweep_params", () => {
  it("every generated run carries a copy of its params as generated", async () => {
    const r = await run({ file: tier3 });
    expect(r.records).toHaveLength(216);
    for (const rec of r.records) expect(rec.sweep_params).toEqual(rec.params);
    // Right after params, so a record reads params, then what the sweep said.
    expect(Object.keys(r.records[0]!).indexOf("sweep_params")).toBe(Object.keys(r.records[0]!).indexOf("params") + 1);
  });

  it("lets downstream tell a run whose params were changed after generation", async () => {
    const r = await run({ params: ["lr=0.1,0.2"], command: ["python", "train.py"], args: "hydra" });
    const changed = { ...r.records[1]!, params: { ...(r.records[1]!.params as object), lr: 0.1 } };
    expect(paramChanges(r.records[0]! as never)).toEqual([]);
    expect(paramChanges(changed as never)).toEqual([{ key: "lr", sweep: 0.2, ran: 0.1 }]);
  });

  it("does not change the run ids (content id of params, command, variant, dir)", async () => {
    const r = await sweep("grid:\n  lr: [0.1]\n");
    expect(r.records[0]).toMatchObject({ id: "fd46d24c80babb3d", params: { lr: 0.1 }, sweep_params: { lr: 0.1 } });
  });
});
