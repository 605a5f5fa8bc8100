import type { Comparison, Configuration } from "../compare.ts";
import { formatNumber } from "../format.ts";
import { type LogMode, open, shift, truncate, xScale, yScale } from "./plot.ts";
import { type Scale, px, tickLabel, xmlEscape } from "./scale.ts";

/**
 * Configurations side by side: one panel per configuration on shared axes, its seeds as the mean
 * loss (line) inside the min-max band over the seeds, the final loss mean ± std under it, the best
 * configuration framed in green and marked "best".
 */

const MEAN = "#1f77b4";
const BAND = "#1f77b4";
const BEST = "#2ca02c";
const BAD = "#d62728";

export interface CompareOptions {
  title: string;
  logY?: LogMode;
  columns?: number;
}

export const finalText = (c: Configuration): string =>
  c.final ? `${formatNumber(c.final.mean)}${c.final.std !== undefined ? ` ± ${formatNumber(c.final.std)}` : ""}` : "no finite final loss";

function bandPath(c: Configuration, x: Scale, y: Scale): string {
  const pts = c.band.filter((b) => !y.log || b.min > 0);
  if (pts.length < 2) return "";
  const upper = pts.map((b, i) => `${i === 0 ? "M" : "L"}${px(x.map(b.step))} ${px(y.map(b.max))}`);
  const lower = [...pts].reverse().map((b) => `L${px(x.map(b.step))} ${px(y.map(b.min))}`);
  return `${upper.join(" ")} ${lower.join(" ")} Z`;
}

function meanPath(c: Configuration, x: Scale, y: Scale): string {
  return c.band
    .filter((b) => !y.log || b.mean > 0)
    .map((b, i) => `${i === 0 ? "M" : "L"}${px(x.map(b.step))} ${px(y.map(b.mean))}`)
    .join(" ");
}

export function compareSvg(comparison: Comparison, options: CompareOptions): string {
  const configs = comparison.configurations;
  const cols = Math.max(1, Math.min(options.columns ?? 4, configs.length));
  const rows = Math.ceil(configs.length / cols);
  const pw = 260;
  const ph = 170;
  const head = 34;
  const foot = 50;
  const gap = 22;
  const left = 64;
  const top = 64;
  const width = left + cols * (pw + gap);
  const height = top + rows * (head + ph + foot + gap) + 20;
  const values = configs.flatMap((c) => c.band.flatMap((b) => [b.min, b.max]));
  const steps = configs.flatMap((c) => c.band.map((b) => ({ step: b.step, value: b.mean })));
  const y0 = yScale(values, options.logY ?? "auto", ph, 0);
  const x0 = xScale(steps, 0, pw, 4);
  const out = open(width, height, options.title);
  out.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">${xmlEscape(options.title)}</text>`);
  const seeds = configs.reduce((n, c) => n + c.seeds.length, 0);
  out.push(
    `<text x="${left}" y="44" font-size="12" fill="#444444">${xmlEscape(`${configs.length} configurations, ${seeds} runs · line: mean over seeds · band: min to max · shared axes${y0.log ? " (log y)" : ""}`)}</text>`,
  );
  configs.forEach((c, i) => {
    const ox = left + (i % cols) * (pw + gap);
    const oy = top + Math.floor(i / cols) * (head + ph + foot + gap) + head;
    const x = shift(x0, ox);
    const y = shift(y0, oy);
    const frame = c.best ? BEST : "#888888";
    out.push("<g>");
    out.push(`<title>${xmlEscape(`${c.label}: ${c.seeds.map((s) => `${s.name} (${s.status})`).join(", ")}`)}</title>`);
    out.push(`<text x="${ox}" y="${oy - 18}" font-size="13" font-weight="bold"${c.best ? ` fill="${BEST}"` : ""}>${xmlEscape(truncate(c.label, 34))}</text>`);
    if (c.best) out.push(`<text x="${ox + pw}" y="${oy - 18}" text-anchor="end" font-size="13" font-weight="bold" fill="${BEST}">★ best</text>`);
    out.push(`<text x="${ox}" y="${oy - 5}" font-size="11" fill="#555555">${xmlEscape(`${c.seeds.length} seed${c.seeds.length === 1 ? "" : "s"}`)}</text>`);
    out.push(`<rect x="${ox}" y="${oy}" width="${pw}" height="${ph}" fill="#fbfbfb" stroke="${frame}" stroke-width="${c.best ? 3 : 1}"/>`);
    for (const t of y0.ticks) {
      out.push(`<line x1="${ox}" y1="${px(y.map(t))}" x2="${ox + pw}" y2="${px(y.map(t))}" stroke="#e6e6e6"/>`);
      if (i % cols === 0) out.push(`<text x="${ox - 6}" y="${px(y.map(t) + 4)}" text-anchor="end" font-size="10" fill="#444444">${xmlEscape(tickLabel(t, y0.log))}</text>`);
    }
    for (const t of x0.ticks) out.push(`<text x="${px(x.map(t))}" y="${oy + ph + 14}" text-anchor="middle" font-size="10" fill="#444444">${xmlEscape(tickLabel(t))}</text>`);
    const band = bandPath(c, x, y);
    if (band) out.push(`<path d="${band}" fill="${BAND}" fill-opacity="0.22" stroke="none"/>`);
    const mean = meanPath(c, x, y);
    if (mean) out.push(`<path d="${mean}" fill="none" stroke="${MEAN}" stroke-width="2.2" stroke-linejoin="round"/>`);
    else out.push(`<text x="${ox + pw / 2}" y="${oy + ph / 2}" text-anchor="middle" font-size="12" fill="#888888">no finite loss</text>`);
    out.push(`<text x="${ox}" y="${oy + ph + 30}" font-size="12">${xmlEscape(`final loss ${finalText(c)}`)}</text>`);
    if (c.why) out.push(`<text x="${ox}" y="${oy + ph + 45}" font-size="11" fill="${BAD}">${xmlEscape(truncate(c.why, 40))}</text>`);
    out.push("</g>");
  });
  const cy = top + head + ph / 2;
  out.push(`<text x="14" y="${cy}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${cy})">${y0.log ? "loss (log scale)" : "loss"}</text>`);
  out.push(`<text x="${width - gap}" y="${height - 6}" text-anchor="end" font-size="11" fill="#444444">step</text>`);
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
