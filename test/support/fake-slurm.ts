import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A stand-in squeue and sacct in `bin` (for SLURMPIPE_SLURM_BIN) that answer every job asked for
 * with `-j` as COMPLETED, named as `submittedRecords` names them: for tests where the commands'
 * plumbing is under test (output at exit, locks), not Slurm.
 */
export function writeCompletedSlurm(bin: string): void {
  mkdirSync(bin, { recursive: true });
  const tag = 'f"run{i}.sp{int(i):010x}"';
  const script = (lines: string) =>
    `#!/usr/bin/env python3\nimport sys\na = sys.argv\nfor i in dict.fromkeys(a[a.index("-j") + 1].split(",")):\n${lines}`;
  writeFileSync(join(bin, "squeue"), script(`    print(f"{i}|{i}|||COMPLETED|None|0:05|10:00|node1|2026-01-01T00:00:00|2026-01-01T00:00:05|2026-01-01T00:00:00|1G|(null)|" + ${tag})\n`));
  writeFileSync(
    join(bin, "sacct"),
    script(
      `    print(f"{i}|{i}|COMPLETED|0:0|00:00:05|2026-01-01T00:00:00|2026-01-01T00:00:05|2026-01-01T00:00:00||1G|00:10:00|node1||" + ${tag})\n` +
        `    print(f"{i}.batch|{i}.batch|COMPLETED|0:0|00:00:05|2026-01-01T00:00:00|2026-01-01T00:00:05|2026-01-01T00:00:00|1000K||||||batch")\n`,
    ),
  );
  for (const f of ["squeue", "sacct"]) chmodSync(join(bin, f), 0o755);
}

/** `n` submitted run records (jobs 1000, 1001, ...) with `extra` fields, as NDJSON text. */
export function submittedRecords(n: number, extra: Record<string, unknown> = {}): string {
  const lines: string[] = [];
  for (let i = 1000; i < 1000 + n; i++) {
    const id = `${i.toString(16).padStart(10, "0")}abcdef`;
    lines.push(JSON.stringify({ kind: "run", id, name: `run${i}`, ...extra, job: { id: String(i), name: `run${i}.sp${id.slice(0, 10)}`, submitted_at: "2026-01-01T00:00:00Z", cluster: "c" } }));
  }
  return `${lines.join("\n")}\n`;
}
