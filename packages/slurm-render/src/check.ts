/** `--check`: what sbatch and bash would reject, found before anything is submitted. */
import { execa } from "execa";
import { SBATCH_OPTIONS, directiveOptionName } from "./directives.ts";
import type { JobPlan } from "./resolve.ts";

export interface CheckProblem {
  field: string;
  message: string;
}

/**
 * Known option names in extra directives. (Time and memory formats and whole numbers are checked
 * for every render, with or without --check: planJob.)
 */
export function checkDirectives(plan: JobPlan): CheckProblem[] {
  const problems: CheckProblem[] = [];
  plan.extra.forEach((d, i) => {
    const name = directiveOptionName(d);
    if (!name || !SBATCH_OPTIONS.has(name)) problems.push({ field: `resources.extra[${i}]`, message: `unknown sbatch option in directive ${JSON.stringify(d)}` });
    if (name === "array" || name === "output" || name === "error" || name === "job-name") {
      problems.push({ field: `resources.extra[${i}]`, message: `${JSON.stringify(d)} conflicts with what slurm-render sets itself` });
    }
  });
  return problems;
}

/** `bash -n` on the script text; the message is bash's own. */
export async function checkSyntax(text: string): Promise<CheckProblem[]> {
  const r = await execa("bash", ["-n"], { input: text, reject: false, timeout: 30_000 });
  if (r.exitCode === 0) return [];
  return [{ field: "script", message: `bash -n: ${String(r.stderr).trim().replace(/^bash: /gm, "") || `exit ${r.exitCode}`}` }];
}
