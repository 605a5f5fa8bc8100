import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { colorBySvg, overviewSvg, runPlotSvg } from "../src/svg/plot.ts";
import { logScale, niceTicks, wantsLog, xmlEscape } from "../src/svg/scale.ts";
import type { Curve } from "../src/svg/plot.ts";

function decreasing(name: string, n = 50, from = 2.3, to = 0.4): Curve {
  return { name, status: "COMPLETED", points: Array.from({ length: n }, (_, i) => ({ step: i * 10, value: from * (to / from) ** (i / (n - 1)) })) };
}

function valid(svg: string) {
  const result = XMLValidator.validate(svg);
  if (result !== true) throw new Error(`invalid XML: ${JSON.stringify(result.err)}`);
  const doc = new XMLParser({ ignoreAttributes: false }).parse(svg);
  expect(doc.svg["@_xmlns"]).toBe("http://www.w3.org/2000/svg");
  expect(doc.svg["@_viewBox"]).toMatch(/^0 0 \d+ \d+$/);
  expect(doc.svg["@_font-family"]).toContain("sans-serif");
  return doc;
}

/** All text nodes of the SVG, for checking labels. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
}

describe("per-run SVG", () => {
  it("is well-formed XML with a viewBox, the run name as title, axis ticks and labels", () => {
    const svg = runPlotSvg(decreasing("core_lr0.1_s0"));
    valid(svg);
    const t = texts(svg);
    expect(t[0]).toBe("core_lr0.1_s0");
    expect(t).toContain("step");
    expect(t).toContain("loss");
    expect(t.filter((x) => /^\d/.test(x)).length).toBeGreaterThan(6);
  });

  it("escapes hostile names and survives control characters and lone surrogates", () => {
    const svg = runPlotSvg({ name: `a<b>&"c'\u0001\ud800`, points: [{ step: 1, value: 1 }] });
    valid(svg);
    expect(svg).toContain("a&lt;b&gt;&amp;&quot;c&apos;\ufffd");
  });

  it("marks NaN points and breaks the line there", () => {
    const c = decreasing("nan-run", 10);
    c.points.push({ step: 100, value: null }, { step: 110, value: null });
    const svg = runPlotSvg(c);
    valid(svg);
    expect(svg).toContain("NaN/inf loss (2)");
    expect(svg.match(/stroke="#d62728" stroke-width="1.5"/g)).toHaveLength(2);
  });

  it("uses a log axis when the loss spans decades, and not otherwise", () => {
    expect(runPlotSvg(decreasing("x", 40, 10, 0.01))).toContain("loss (log scale)");
    expect(runPlotSvg(decreasing("x", 40, 2.3, 1.1))).not.toContain("log scale");
    expect(runPlotSvg(decreasing("x", 40, 2.3, 1.1), { logY: "on" })).toContain("log scale");
    expect(runPlotSvg(decreasing("x", 40, 10, 0.01), { logY: "off" })).not.toContain("log scale");
  });

  it("handles empty, single-point and constant series", () => {
    valid(runPlotSvg({ name: "empty", points: [] }));
    const one = runPlotSvg({ name: "one", points: [{ step: 5, value: 2 }] });
    valid(one);
    expect(one).toContain("<circle");
    valid(runPlotSvg({ name: "flat", points: [{ step: 0, value: 1 }, { step: 10, value: 1 }] }));
    expect(runPlotSvg({ name: "empty", points: [] })).toContain("no loss data");
  });

  it("is deterministic", () => {
    expect(runPlotSvg(decreasing("a"))).toBe(runPlotSvg(decreasing("a")));
  });
});

describe("overview SVGs", () => {
  const runs = Array.from({ length: 54 }, (_, i) => ({ ...decreasing(`S-core_lr${[0.05, 0.1, 0.2][i % 3]}_wd${[1e-4, 1e-3, 1e-2][Math.floor(i / 3) % 3]}_seed${Math.floor(i / 9)}`, 200, 2.3, 0.3 + (i % 7) * 0.05), value: [0.05, 0.1, 0.2][i % 3] }));

  it("lays 54 runs out in 6 columns x 9 rows with every run name under its panel", () => {
    const svg = overviewSvg(runs, { title: "S-core: loss per run" });
    const doc = valid(svg);
    expect(Number(doc.svg["@_width"])).toBeLessThan(1200);
    expect(svg.match(/<rect x="[\d.]+" y="[\d.]+" width="170" height="96"/g)).toHaveLength(54);
    for (const r of runs) expect(svg).toContain(`<title>${r.name} (COMPLETED)`);
    const panelYs = new Set([...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="170"/g)].map((m) => m[1]));
    expect(panelYs.size).toBe(9);
  });

  it("keeps 216 runs (4 groups x 54) small: per-group files stay well under 1 MB", () => {
    const svg = overviewSvg(runs, { title: "g" });
    expect(svg.length).toBeLessThan(1_000_000);
  });

  it("colours lines by a parameter with a legend", () => {
    const svg = colorBySvg(runs, { title: "S-core: loss by lr", param: "lr" });
    valid(svg);
    const t = texts(svg);
    expect(t).toEqual(expect.arrayContaining(["lr", "0.05", "0.1", "0.2"]));
    expect(new Set([...svg.matchAll(/<path d="[^"]+" fill="none" stroke="(#[0-9a-f]{6})" stroke-width="1.3"/g)].map((m) => m[1])).size).toBe(3);
  });
});

describe("scales", () => {
  it("nice ticks cover the range", () => {
    expect(niceTicks(0.4, 2.3, 5)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    expect(niceTicks(0, 2000, 6)).toEqual([0, 500, 1000, 1500, 2000]);
  });
  it("log scale ticks at decades", () => {
    expect(logScale(0.012, 9.8, 0, 100).ticks).toEqual([0.01, 0.1, 1, 10]);
    expect(wantsLog([0.5, 2], "auto")).toBe(false);
    expect(wantsLog([0.01, 2], "auto")).toBe(true);
    expect(wantsLog([-1, 2], "on")).toBe(false);
  });
  it("xmlEscape", () => expect(xmlEscape(`<&>"'`)).toBe("&lt;&amp;&gt;&quot;&apos;"));
});
