/**
 * The environment a local job starts with, as sbatch's `--export` decides it (sbatch(1)):
 *   ALL (the default, also from SBATCH_EXPORT)  the submitting shell's whole environment
 *   NONE                                        only its SLURM_* variables
 *   NIL                                         nothing at all
 *   A,B=2 / ALL,B=2                              only A (its current value) and B=2, plus SLURM_*
 *                                               / everything, with B=2
 * A job that asks for less gets, and stores, less: the job file keeps only what the job runs with.
 */
export function exportedEnvironment(exportText: string | undefined, env: Record<string, string | undefined>): Record<string, string> {
  const spec = (exportText ?? env.SBATCH_EXPORT ?? "ALL").trim();
  const items = spec.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new Error(`invalid --export specification ${JSON.stringify(spec)}`);
  const out: Record<string, string> = {};
  const copy = (keep: (name: string) => boolean) => {
    for (const [k, v] of Object.entries(env)) if (v !== undefined && keep(k)) out[k] = v;
  };
  const head = items[0]!.toUpperCase();
  if (head === "NIL") {
    if (items.length > 1) throw new Error("--export=NIL takes no variables");
    return out;
  }
  if (head === "NONE") {
    if (items.length > 1) throw new Error("--export=NONE takes no variables (use --export=VAR,... to pass some)");
    copy((k) => k.startsWith("SLURM_"));
    return out;
  }
  const rest = head === "ALL" ? items.slice(1) : items;
  copy(head === "ALL" ? () => true : (k) => k.startsWith("SLURM_"));
  for (const item of rest) {
    const eq = item.indexOf("=");
    const name = eq === -1 ? item : item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid variable name ${JSON.stringify(name)} in --export`);
    if (eq !== -1) out[name] = item.slice(eq + 1);
    else if (env[name] !== undefined) out[name] = env[name]!;
  }
  return out;
}
