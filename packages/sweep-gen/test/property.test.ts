import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sweep } from "./helpers.ts";

const SAFE = /^[A-Za-z0-9_][A-Za-z0-9_.+=-]*$/;
const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/);
const scalar = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 12 }),
  fc.constantFrom("1e-4", "a/b c", "$(x)", "日本", "..", "-x", "ok"),
  fc.boolean(),
);
const axis = fc.uniqueArray(scalar, { minLength: 1, maxLength: 4, selector: (v) => JSON.stringify(v) });
const grid = fc.dictionary(key, axis, { minKeys: 1, maxKeys: 3 });
const literal = fc.constantFrom("", "_", "-", ".", "x", "run_", "a=b", "{{x}}");

function shuffle<T>(items: T[], order: number[]): T[] {
  return items.map((item, i) => ({ item, k: order[i % order.length]! + i / 1000 })).sort((a, b) => a.k - b.k).map((x) => x.item);
}

describe("properties", () => {
  it("every emitted name is safe, short enough and unique (or the sweep is refused)", async () => {
    await fc.assert(
      fc.asyncProperty(grid, fc.array(literal, { minLength: 1, maxLength: 4 }), fc.boolean(), async (g, lits, useTemplate) => {
        const keys = Object.keys(g);
        const tpl = keys.map((k, i) => `${lits[i % lits.length]}{${k}}`).join("") + lits[0];
        const doc = { ...(useTemplate ? { name: tpl } : {}), grid: g };
        const r = await sweep(JSON.stringify(doc), {}, "p.json");
        if (r.code !== 0) {
          expect(r.stdout).toBe("");
          expect(r.stderr).toMatch(/p\.json(:\d+)?: /);
          return;
        }
        const names = r.records.map((x) => String(x.name));
        for (const n of names) {
          expect(n).toMatch(SAFE);
          expect(n.length).toBeLessThanOrEqual(100);
        }
        expect(new Set(names).size).toBe(names.length);
      }),
      { numRuns: 150 },
    );
  });

  it("ids do not depend on the order of keys in the sweep file", async () => {
    const params = fc.dictionary(key, scalar, { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(grid, params, fc.array(fc.nat(20), { minLength: 1, maxLength: 6 }), async (g, p, order) => {
        for (const k of Object.keys(p)) if (k in g) delete p[k];
        const build = (reorder: boolean) => {
          const re = <T>(o: Record<string, T>) => Object.fromEntries(reorder ? shuffle(Object.entries(o), order) : Object.entries(o));
          const top: [string, unknown][] = [
            ["command", ["train"]],
            ["args", "hydra"],
            ["name", "r{index}"],
            ["params", re(p)],
            ["grid", re(g)],
            ["variants", re({ a: { params: { V: 1 } }, b: {} })],
          ];
          return JSON.stringify(Object.fromEntries(reorder ? shuffle(top, order) : top));
        };
        const a = await sweep(build(false), {}, "a.json");
        const b = await sweep(build(true), {}, "b.json");
        expect(a.code).toBe(0);
        expect(b.code).toBe(0);
        const ids = (rs: Record<string, unknown>[]) => rs.map((x) => `${x.id}`).sort();
        expect(ids(b.records)).toEqual(ids(a.records));
        expect(new Set(ids(a.records)).size).toBe(a.records.length);
      }),
      { numRuns: 60 },
    );
  });
});
