import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { compareConfigurations } from "../src/compare.ts";
import { compareSvg } from "../src/svg/compare.ts";
import { overviewSvg, runPlotSvg } from "../src/svg/plot.ts";
import type { RunView } from "../src/view.ts";

/**
 * Renders the SVGs in a real browser. Needs Debian's chromium (`apt-get install -y chromium`);
 * skipped with a one-line reason when it is missing (also under CI, where it is not guaranteed).
 */
async function findChromium(): Promise<string | undefined> {
  for (const bin of ["chromium", "chromium-browser", "google-chrome"]) {
    const r = await execa(bin, ["--version"], { reject: false, timeout: 20_000 }).catch(() => undefined);
    if (r && r.exitCode === 0) return bin;
  }
  return undefined;
}

const chromium = await findChromium();
// scripts/test-all installs chromium, so CI runs these tests: there, a missing chromium is a failure, not a skip.
if (!chromium && process.env.CI === "true") throw new Error("no chromium on PATH in CI: scripts/test-all installs it (apt-get install chromium)");
if (!chromium) process.stderr.write("skipping headless-chromium SVG rendering tests: no chromium on PATH (apt-get install -y chromium)\n");

async function screenshot(svgPath: string, width: number, height: number): Promise<PNG> {
  const dir = mkdtempSync(join(tmpdir(), "summary-md-chromium-"));
  const png = join(dir, "shot.png");
  await execa(
    chromium!,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${join(dir, "profile")}`,
      `--screenshot=${png}`,
      `--window-size=${width},${height}`,
      `file://${svgPath}`,
    ],
    { timeout: 90_000 },
  );
  return PNG.sync.read(readFileSync(png));
}

/** Pixels that are not (near) white, and how many of them are the curve's blue. */
function ink(png: PNG): { nonWhite: number; blue: number; total: number } {
  let nonWhite = 0;
  let blue = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
    if (r < 240 || g < 240 || b < 240) nonWhite += 1;
    if (b > 150 && r < 120 && b - r > 60) blue += 1;
  }
  return { nonWhite, blue, total: png.width * png.height };
}

describe.skipIf(!chromium)("SVGs render in headless chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "summary-md-svg-"));
  const curve = (name: string, n: number) => ({
    name,
    status: "COMPLETED",
    points: Array.from({ length: n }, (_, i) => ({ step: i * 10, value: 2.3 * 0.2 ** (i / (n - 1)) })),
  });

  it("a per-run plot is drawn (axes, text and the blue curve)", { timeout: 120_000 }, async () => {
    const path = join(dir, "run.svg");
    writeFileSync(path, runPlotSvg(curve("core_lr0.1_s0", 80)));
    const stats = ink(await screenshot(path, 740, 420));
    expect(stats.nonWhite / stats.total).toBeGreaterThan(0.01);
    expect(stats.blue).toBeGreaterThan(300);
  });

  it("a 54-run overview is drawn", { timeout: 120_000 }, async () => {
    const path = join(dir, "overview.svg");
    writeFileSync(path, overviewSvg(Array.from({ length: 54 }, (_, i) => curve(`run_${i}`, 60)), { title: "S-core: loss per run" }));
    const stats = ink(await screenshot(path, 1200, 1400));
    expect(stats.nonWhite / stats.total).toBeGreaterThan(0.02);
    expect(stats.blue).toBeGreaterThan(54 * 50);
  });

  it("the configuration comparison is drawn: bands and means in blue, the best framed in green", { timeout: 120_000 }, async () => {
    const views = [0.1, 0.03, 0.01].flatMap((lr, k) =>
      [0, 1, 2].map((seed) => {
        const points = Array.from({ length: 60 }, (_, i) => ({ step: i * 10, value: (2.3 - k * 0.4) * 0.3 ** (i / 59) + 0.05 * seed }));
        return { id: `${lr}-${seed}`, name: `lr${lr}_s${seed}`, group: "g", status: "COMPLETED", record: { params: { lr, seed }, report: { series: { loss: points } } }, failures: [], notes: [], paramChanges: [] } as unknown as RunView;
      }),
    );
    const path = join(dir, "compare.svg");
    writeFileSync(path, compareSvg(compareConfigurations(views)!, { title: "g: loss by configuration" }));
    const png = await screenshot(path, 900, 360);
    const stats = ink(png);
    expect(stats.nonWhite / stats.total).toBeGreaterThan(0.05);
    expect(stats.blue).toBeGreaterThan(3 * 200);
    let green = 0;
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i + 1]! > 140 && png.data[i]! < 90 && png.data[i + 2]! < 90) green += 1;
    expect(green).toBeGreaterThan(300);
  });
});
