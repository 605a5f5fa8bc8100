import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { PNG } from "pngjs";

/**
 * Headless Chromium (Debian's `chromium`, installed by scripts/test-all) for the screenshot
 * checks. As root it needs --no-sandbox; every run gets a new empty profile and no network
 * side-traffic (no QUIC, sync, component updates or background requests).
 */
export async function findChromium(): Promise<string | undefined> {
  for (const bin of ["chromium", "chromium-browser"]) {
    const r = await execa(bin, ["--version"], { reject: false, timeout: 20_000 }).catch(() => undefined);
    if (r?.exitCode === 0) return bin;
  }
  return undefined;
}

async function chromium(bin: string, args: string[], url: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), "sp-chromium-profile-"));
  try {
    const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
    const r = await execa(bin, [...flags, `--user-data-dir=${profile}`, ...args, url], { timeout: 120_000 });
    return r.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

export async function screenshot(bin: string, url: string, width: number, height: number): Promise<PNG> {
  const dir = mkdtempSync(join(tmpdir(), "sp-chromium-shot-"));
  try {
    const png = join(dir, "shot.png");
    await chromium(bin, [`--screenshot=${png}`, `--window-size=${width},${height}`, "--hide-scrollbars", "--virtual-time-budget=10000"], url);
    return PNG.sync.read(readFileSync(png));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The page's DOM after load (and its scripts) ran. */
export function dumpDom(bin: string, url: string): Promise<string> {
  return chromium(bin, ["--dump-dom", "--virtual-time-budget=10000"], url);
}

export interface PixelStats {
  total: number;
  /** Pixels that are not (near) white. */
  ink: number;
  /** Distinct colours, quantised to 4 bits a channel. */
  colours: number;
  /** The plots' curve blue (#1f77b4 and its band tints). */
  blue: number;
  /** The best configuration's green frame (#2ca02c). */
  green: number;
}

export function pixelStats(png: PNG): PixelStats {
  let ink = 0;
  let blue = 0;
  let green = 0;
  const colours = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
    colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
    if (r < 235 || g < 235 || b < 235) ink += 1;
    if (b > 150 && r < 120 && b - r > 60) blue += 1;
    if (g > 140 && r < 90 && b < 90) green += 1;
  }
  return { total: png.width * png.height, ink, colours: colours.size, blue, green };
}

/** Why a screenshot is no picture of a page: blank (almost all one colour) or nearly empty. */
export function blankReason(s: PixelStats): string | undefined {
  if (s.colours < 8) return `only ${s.colours} colours: a blank page`;
  if (s.ink / s.total < 0.01) return `${((100 * s.ink) / s.total).toFixed(2)}% of the pixels are not white: an empty page`;
  return undefined;
}

/**
 * Appended to a rendered page: once it has loaded, every <img> is listed with its natural size in
 * a <pre id="image-check"> (JSON), which --dump-dom then shows. A broken image has naturalWidth 0.
 */
export const IMAGE_CHECK_SCRIPT = `<script>
window.addEventListener("load", () => {
  const imgs = [...document.images].map((i) => ({ src: i.getAttribute("src"), w: i.naturalWidth, h: i.naturalHeight, complete: i.complete }));
  const pre = document.createElement("pre");
  pre.id = "image-check";
  pre.textContent = JSON.stringify(imgs);
  document.body.appendChild(pre);
});
</script>`;

export function imageCheck(dom: string): { src: string; w: number; h: number; complete: boolean }[] {
  const m = /<pre id="image-check">([^<]*)<\/pre>/.exec(dom);
  if (!m) throw new Error("the page's image check did not run (no <pre id=\"image-check\"> in the DOM)");
  const text = m[1]!.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  return JSON.parse(text) as { src: string; w: number; h: number; complete: boolean }[];
}
