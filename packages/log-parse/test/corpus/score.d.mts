import type { LogReport, RunRecord } from "@slurmpipe/core";

export interface CorpusCase {
  name: string;
  dir: string;
  spec: { source: string; how: string; expect: Record<string, unknown>; state?: Record<string, unknown>; files?: Record<string, string>; known_miss?: string };
}
export interface CaseResult {
  name: string;
  diffs: string[];
  known_miss?: string;
}
export function loadCases(dir: string): CorpusCase[];
export function recordOf(c: CorpusCase): Partial<RunRecord>;
export function compare(expect: Record<string, unknown>, report: LogReport): string[];
export function scoreCorpus(dir: string, report: (record: Partial<RunRecord>) => Promise<LogReport>): Promise<CaseResult[]>;
export function scoreLine(results: readonly CaseResult[]): string;
