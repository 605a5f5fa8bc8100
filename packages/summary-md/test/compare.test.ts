import { XMLValidator } from "fast-xml-parser";
import { describe, expect, test } from "vitest";
import { compareConfigurations, isSeedParam, seedBand, summarize } from "../src/compare.ts";
import { compareSvg } from "../src/svg/compare.ts";
import type { RunView } from "../src/view.ts";

const run = (name: string, params: Record<string, unknown>, values: (number | null)[], status = "COMPLETED"): RunView =>
  ({
    id: name,
    name,
    group: "g",
    status,
    record: { params, report: { series: { loss: values.map((value, i) => ({ step: i * 10, value })) } } },
    failures: [],
    notes: [],
    paramChanges: [],
  }) as unknown as RunView;

describe("configurations of a sweep", () => {
  test("seeds are folded: mean, min-max band on shared steps, final mean ± sample std", () => {
    const c = compareConfigurations([
      run("a_s0", { lr: 0.1, seed: 0, optim: { name: "sgd" } }, [3, 2, 1]),
      run("a_s1", { lr: 0.1, seed: 1, optim: { name: "sgd" } }, [5, 4, 3]),
      run("b_s0", { lr: 0.01, seed: 0, optim: { name: "sgd" } }, [3, 2.5, 2]),
      run("b_s1", { lr: 0.01, seed: 1, optim: { name: "sgd" } }, [3, 2.5, 2.5]),
    ])!;
    expect(c.varying).toEqual(["lr"]);
    expect(c.configurations.map((x) => x.label)).toEqual(["lr=0.01", "lr=0.1"]);
    const a = c.configurations[1]!;
    expect(a.band).toEqual([
      { step: 0, mean: 4, min: 3, max: 5 },
      { step: 10, mean: 3, min: 2, max: 4 },
      { step: 20, mean: 2, min: 1, max: 3 },
    ]);
    expect(a.final).toEqual({ mean: 2, std: Math.SQRT2, min: 1, max: 3, n: 2 });
    expect(c.configurations[0]!.final!.mean).toBe(2.25);
    expect(a.best).toBe(true);
    expect(c.configurations[0]!.best).toBe(false);
  });

  test("a configuration with a failed or diverged seed is never the best, however low its mean", () => {
    const c = compareConfigurations([
      run("a_s0", { lr: 0.1, seed: 0 }, [3, 0.1]),
      run("a_s1", { lr: 0.1, seed: 1 }, [3, 0.2], "TIMEOUT"),
      run("b_s0", { lr: 0.2, seed: 0 }, [3, 0.05]),
      run("b_s1", { lr: 0.2, seed: 1 }, [3, null]),
      run("c_s0", { lr: 0.3, seed: 0 }, [3, 1]),
      run("c_s1", { lr: 0.3, seed: 1 }, [3, 1.2]),
    ])!;
    expect(c.configurations.map((x) => [x.label, x.best, x.why])).toEqual([
      ["lr=0.1", false, "a seed TIMEOUT"],
      ["lr=0.2", false, "a seed's final loss is NaN/inf"],
      ["lr=0.3", true, undefined],
    ]);
    expect(c.configurations[1]!.final).toEqual({ mean: 0.05, min: 0.05, max: 0.05, n: 1 });
  });

  test("nothing to compare without two seeds of one configuration", () => {
    expect(compareConfigurations([run("a", { lr: 0.1, seed: 0 }, [1]), run("b", { lr: 0.2, seed: 0 }, [1])])).toBeUndefined();
  });

  test("seed params by name; the band keeps any seed's steps when they share none", () => {
    expect(["seed", "data.seed", "random_seed", "seed_model"].every(isSeedParam)).toBe(true);
    expect(["seedling", "lr", "reseeded"].some(isSeedParam)).toBe(false);
    const band = seedBand([
      { id: "a", name: "a", status: "COMPLETED", points: [{ step: 1, value: 1 }, { step: 3, value: 3 }] },
      { id: "b", name: "b", status: "COMPLETED", points: [{ step: 2, value: 2 }] },
    ]);
    expect(band.map((b) => b.step)).toEqual([1, 2, 3]);
    expect(summarize([])).toBeUndefined();
  });

  test("the SVG: valid XML, one panel per configuration, the best marked, the final loss under each", () => {
    const c = compareConfigurations([
      run("a_s0", { lr: 0.1, seed: 0 }, [3, 1]),
      run("a_s1", { lr: 0.1, seed: 1 }, [3, 2]),
      run("b_s0", { lr: 0.2, seed: 0 }, [3, 2.5], "FAILED"),
    ])!;
    const svg = compareSvg(c, { title: "g & h: loss" });
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toContain("g &amp; h: loss");
    expect(svg.match(/★ best/g)).toHaveLength(1);
    expect(svg).toContain("final loss 1.5 ± 0.70711");
    expect(svg).toContain("a seed FAILED");
    expect(svg.match(/fill-opacity="0.22"/g)).toHaveLength(2);
  });
});
