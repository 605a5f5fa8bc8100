import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { marked } from "marked";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { IMAGE_CHECK_SCRIPT, blankReason, dumpDom, findChromium, imageCheck, pixelStats, screenshot } from "./support/chromium.ts";
import { scratch } from "./support/recipe.ts";

// STATUS.md of a real run set (scripts/demo: 12 runs on the local backend, two optimizers x two
// learning rates x two seeds, four failing runs) rendered to HTML as a markdown viewer shows it,
// opened in headless Chromium: every plot loads (naturalWidth > 0) and the screenshot is a page,
// not a blank or broken image. scripts/test-all installs chromium; CI must have it (no skip there).
const chromium = await findChromium();
if (!chromium && process.env.CI === "true") throw new Error("no chromium on PATH in CI: scripts/test-all installs it (apt-get install chromium)");

function page(markdown: string, title: string): string {
  const css = "body{font-family:DejaVu Sans,sans-serif;max-width:1200px;margin:16px;color:#222}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}img{max-width:100%;display:block;margin:8px 0}";
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title><style>${css}</style></head><body>${marked.parse(markdown, { async: false })}${IMAGE_CHECK_SCRIPT}</body></html>`;
}

describe.skipIf(!chromium)("STATUS.md of the demo, rendered in headless Chromium", () => {
  const s = scratch("status-shot");
  afterAll(() => s.cleanup());
  const out = join(s.dir, "demo");

  it("every image of the page loads and the screenshot shows tables and plots", { timeout: 300_000 }, async () => {
    const r = await execa("bash", [join(repoRoot, "scripts/demo"), out], { env: s.env, reject: false, timeout: 200_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const status = readFileSync(join(out, "STATUS.md"), "utf8");
    expect(status).toContain("![Loss by configuration, sgd](plots/compare-sgd.svg)");
    const html = join(out, "STATUS.html");
    writeFileSync(html, page(status, "demo"));
    const images = imageCheck(await dumpDom(chromium!, `file://${html}`));
    // Two overviews and two comparisons.
    expect(images.map((i) => i.src).sort()).toEqual(["plots/compare-adamw.svg", "plots/compare-sgd.svg", "plots/overview-adamw.svg", "plots/overview-sgd.svg"]);
    for (const img of images) expect(img.w, `${img.src} did not load`).toBeGreaterThan(0);
    const png = await screenshot(chromium!, `file://${html}`, 1280, 2600);
    writeFileSync(join(out, "STATUS.png"), PNG.sync.write(png));
    const stats = pixelStats(png);
    expect(blankReason(stats)).toBeUndefined();
    expect(stats.blue, "the plots' curves and bands").toBeGreaterThan(5000);
    expect(stats.green, "the best configuration's frame").toBeGreaterThan(500);
  });

  it("the checks catch a broken image and a blank page", { timeout: 120_000 }, async () => {
    const html = join(s.dir, "broken.html");
    writeFileSync(html, page("# Broken\n\n![missing plot](plots/none.svg)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", "broken"));
    const images = imageCheck(await dumpDom(chromium!, `file://${html}`));
    expect(images).toEqual([expect.objectContaining({ src: "plots/none.svg", w: 0 })]);
    const blank = join(s.dir, "blank.html");
    writeFileSync(blank, "<!doctype html><html><body></body></html>");
    expect(blankReason(pixelStats(await screenshot(chromium!, `file://${blank}`, 800, 600)))).toMatch(/blank page/);
  });
});
