import { formatLineError } from "@slurmpipe/core";
import type { Where } from "./values.ts";

/** One problem in a sweep description, with the file, line and key path it concerns. */
export interface Issue extends Where {
  message: string;
}

export function formatIssue(i: Issue): string {
  if (i.line !== undefined) return formatLineError({ source: i.source, line: i.line, field: i.path || undefined, message: i.message });
  return i.path ? `${i.source}: field "${i.path}": ${i.message}` : `${i.source}: ${i.message}`;
}

/** Every problem found in a sweep, reported together (exit 1). */
export class SweepError extends Error {
  constructor(readonly issues: Issue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "SweepError";
  }
}

/** Collects issues while a sweep is read, so one run of the command reports all of them. */
export class Issues {
  readonly list: Issue[] = [];
  /** Not errors, but worth telling (printed on stderr). */
  readonly warnings: string[] = [];
  add(at: Where, message: string): void {
    this.list.push({ ...at, message });
  }
  throwIfAny(): void {
    if (this.list.length > 0) throw new SweepError(this.list);
  }
}
