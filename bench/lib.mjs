// Shared helpers of the bench scripts: run a built command under /usr/bin/time (wall time and
// peak RSS), count Slurm client calls through a wrapper bin dir, print the result table, and
// cancel the bench's own jobs. Benches print tables; they never assert timings in tests.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const COMMANDS = ["sweep-gen", "slurm-render", "slurm-submit", "slurm-poll", "log-parse", "summary-md", "archive"];

/** Every job a bench submits is named with this prefix, so the bench can cancel its own jobs by name. */
/** A BENCH_* setting (read by name: benches are not turbo tasks, no cache depends on them). */
export function setting(name, fallback) {
  return process.env[name] ?? fallback;
}

export const JOB_PREFIX = "spbench-";

/** The entry of a command's standalone build (dist/cli.mjs + its chunks: what a user copies to a login node). */
export function cliPath(command) {
  const path = join(ROOT, "packages", command, "dist", "cli.mjs");
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`pnpm build\` first`);
  return path;
}

/** A scratch directory outside the repository; removed by `cleanup` unless BENCH_KEEP=1. */
export function scratch(name) {
  const base = setting("BENCH_TMP") ?? tmpdir();
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, `slurmpipe-bench-${name}-`));
}

export function cleanup(dir) {
  if (setting("BENCH_KEEP") === "1") process.stderr.write(`kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs `cmd args` under `/usr/bin/time` and returns wall seconds, peak RSS (MB) and the exit code.
 * stdin/stdout may be file paths; stderr is kept for error messages. Never goes through a shell.
 */
export async function timed(cmd, args, { stdin, stdout, cwd, env, allowExit = [0] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "spb-time-"));
  const timeFile = join(dir, "time");
  const r = await execa("/usr/bin/time", ["-f", "%e %M %U %S", "-o", timeFile, cmd, ...args], {
    reject: false,
    cwd,
    env,
    stdin: stdin ? { file: stdin } : "ignore",
    stdout: stdout ? { file: stdout } : "pipe",
    stderr: "pipe",
    maxBuffer: 1024 * 1024 * 1024,
  });
  const lines = readFileSync(timeFile, "utf8").trim().split("\n");
  rmSync(dir, { recursive: true, force: true });
  const [wall, rssKb, user, sys] = lines[lines.length - 1].split(" ").map(Number);
  const result = { wall, rssMb: rssKb / 1024, cpu: user + sys, exitCode: r.exitCode, stdout: r.stdout, stderr: String(r.stderr) };
  if (!allowExit.includes(r.exitCode)) {
    throw new Error(`\`${[cmd, ...args].join(" ")}\` exited ${r.exitCode}:\n${result.stderr.split("\n").slice(-15).join("\n")}`);
  }
  return result;
}

/** `timed` for a built command run with plain node. */
export function timedCli(command, args, options) {
  return timed(process.execPath, [cliPath(command), ...args], options);
}

/**
 * A bin dir whose squeue/sacct/sbatch/scontrol/scancel log every call to `calls.log`, then exec the
 * real command (or, with `fake`, run the given script body instead). Pass it with --slurm-bin or PATH.
 */
export function wrapperBin(dir, fake = {}) {
  const bin = join(dir, "bin");
  const log = join(dir, "calls.log");
  mkdirSync(bin, { recursive: true });
  for (const cmd of ["sbatch", "squeue", "sacct", "scontrol", "scancel", "sinfo"]) {
    const real = fake[cmd] ?? `exec ${whichSync(cmd)} "$@"`;
    writeFileSync(join(bin, cmd), `#!/bin/bash\nprintf '%s\\n' "${cmd} $*" >> '${log}'\n${real}\n`);
    chmodSync(join(bin, cmd), 0o755);
  }
  writeFileSync(log, "");
  return {
    bin,
    log,
    reset: () => writeFileSync(log, ""),
    /** Calls logged since the last reset, by command, plus `total` and the raw `lines`. */
    calls() {
      const lines = readFileSync(log, "utf8").split("\n").filter(Boolean);
      const by = { total: lines.length, lines };
      for (const l of lines) {
        const c = l.split(" ")[0];
        by[c] = (by[c] ?? 0) + 1;
      }
      return by;
    },
  };
}

function whichSync(cmd) {
  for (const d of (process.env.PATH ?? "").split(":")) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return `/usr/bin/${cmd}`;
}

/** Job ids of this user's jobs whose name starts with `prefix` (array jobs once, by their base id). */
export async function ownJobIds(prefix = JOB_PREFIX) {
  const r = await execa("squeue", ["-h", "-u", process.env.USER ?? "root", "-o", "%F|%j"], { reject: false });
  const ids = new Set();
  for (const line of String(r.stdout).split("\n")) {
    const [id, ...name] = line.split("|");
    if (id && name.join("|").startsWith(prefix)) ids.add(id.trim());
  }
  return [...ids];
}

/** Cancels the bench's own jobs (named `spbench-...`, or with a group named so), by id. */
export async function cancelOwn(prefix = JOB_PREFIX) {
  const ids = await ownJobIds(prefix);
  for (let i = 0; i < ids.length; i += 500) await execa("scancel", ids.slice(i, i + 500), { reject: false });
  return ids.length;
}

/** Cancels on Ctrl-C too, so an interrupted bench leaves nothing behind. */
export function cancelOnExit(prefix = JOB_PREFIX) {
  const handler = async () => {
    process.stderr.write(`\ninterrupted: cancelling ${prefix}* jobs\n`);
    await cancelOwn(prefix);
    process.exit(130);
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
}

export async function maxJobCount() {
  const r = await execa("scontrol", ["show", "config"], { reject: false });
  const m = /^MaxJobCount\s*=\s*(\d+)/m.exec(String(r.stdout));
  return m ? Number(m[1]) : undefined;
}

export async function queueSize() {
  const r = await execa("squeue", ["-h", "-r", "-o", "%i"], { reject: false });
  return String(r.stdout).split("\n").filter(Boolean).length;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** A number with `digits` significant decimals, thousands separated; strings pass through. */
export function fmt(x, digits = 2) {
  if (typeof x !== "number") return x ?? "-";
  if (!Number.isFinite(x)) return String(x);
  return x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

const results = [];

/**
 * Prints a table: metric | slurmpipe | baseline | ratio | target | result. `pass` is true, false
 * or undefined (no target: information only). Missed targets are counted for the exit code.
 */
export function printTable(title, rows, notes = []) {
  const head = ["metric", "slurmpipe", "baseline", "ratio", "target", "result"];
  const body = rows.map((r) => [
    r.metric,
    fmt(r.slurmpipe),
    fmt(r.baseline),
    r.ratio === undefined ? "-" : r.ratio > 0 && r.ratio < 0.001 ? `${r.ratio.toExponential(1)}x` : `${fmt(r.ratio, r.ratio < 0.1 ? 4 : 2)}x`,
    r.target ?? "-",
    r.pass === undefined ? "info" : r.pass ? "PASS" : "FAIL",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ")} |`;
  const out = [`\n## ${title}\n`, line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)];
  for (const n of notes) out.push(`  ${n}`);
  process.stdout.write(`${out.join("\n")}\n`);
  results.push(...rows.map((r) => ({ title, ...r })));
  if (setting("BENCH_JSON")) {
    writeFileSync(setting("BENCH_JSON"), `${results.map((r) => JSON.stringify(r)).join("\n")}\n`, { flag: "a" });
    results.length = 0;
  }
  return rows.filter((r) => r.pass === false).length;
}

/** Exit code of a bench: 0, or 1 when BENCH_STRICT=1 and a target was missed. */
export function finish(missed) {
  if (missed > 0) process.stderr.write(`${missed} target(s) missed (see FAIL rows)\n`);
  process.exitCode = missed > 0 && setting("BENCH_STRICT") === "1" ? 1 : 0;
}

/** One line describing the machine, for the README. */
export async function machine() {
  const v = await execa("sinfo", ["--version"], { reject: false });
  return `${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, ${String(v.stdout).trim() || "no Slurm"}, ${new Date().toISOString().slice(0, 16)}Z`;
}

export const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
