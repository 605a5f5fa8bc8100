/** `--check`: what sbatch and bash would reject, found before anything is submitted. */
import { execa } from "execa";
import { RESOURCE_KEYS, SBATCH_OPTIONS, directiveOptionName, validateValue } from "./directives.ts";
import type { JobPlan } from "./resolve.ts";

export interface CheckProblem {
  field: string;
  message: string;
}

/** Directive values: time and memory formats, whole numbers, known option names in extra directives. */
export function checkDirectives(plan: JobPlan): CheckProblem[] {
  const problems: CheckProblem[] = [];
  for (const key of RESOURCE_KEYS) {
    const value = plan.resources[key];
    if (value === undefined) continue;
    for (const message of validateValue(key, value)) problems.push({ field: `resources.${key}`, message });
  }
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
