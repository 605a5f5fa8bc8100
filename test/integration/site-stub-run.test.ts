import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { records, repoRoot, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster, waitForJobs } from "../support/slurm.ts";
import { scratch } from "../e2e/support/recipe.ts";

// Issue #16, "Tested here", the part that runs: a script the lumi or olivia profile rendered runs
// for real on the local Slurm, with the site's commands replaced by stubs on PATH that record their
// argv: `module` records and succeeds, the container runtime (singularity on LUMI, apptainer on
// Olivia) records and runs the command it was given in place of the container. Only the site's
// partition, account and sizes are replaced, on sbatch's command line (which wins over #SBATCH).
const STUB_MODULE = `#!/bin/bash\nprintf '%s\\n' "$*" >> "$STUB_LOG/module.log"\n`;
// The runtime's options before the image: each --bind/-B takes a value, flags take none.
const STUB_RUNTIME = `#!/bin/bash
name=$(basename "$0")
printf '%s step=%s cpus=%s |%s\\n' "$name" "\${SLURM_STEP_ID:-none}" "\${SRUN_CPUS_PER_TASK:-unset}" "$*" >> "$STUB_LOG/runtime.log"
[ "$1" = exec ] || { echo "$name stub: only 'exec' is known, got $1" >&2; exit 64; }
shift
while [ $# -gt 0 ]; do
  case $1 in
    --bind | -B) shift 2 ;;
    --nv | --rocm | --cleanenv) shift ;;
    -*) echo "$name stub: unknown option $1" >&2; exit 64 ;;
    *) break ;;
  esac
done
printf 'image %s\\n' "$1" >> "$STUB_LOG/runtime.log"
shift
exec "$@"
`;

const SITES = [
  { site: "lumi", runtime: "singularity", image: "/appl/local/laifs/containers/lumi-multitorch-latest.sif", flags: ["--account", "project_465000123"], modules: ["use /appl/local/laifs/modules", "load lumi-aif-singularity-bindings"] },
  { site: "olivia", runtime: "apptainer", image: "/cluster/work/support/container/pytorch_nvidia_25.06_arm64.sif", flags: ["--account", "nn1234k"], modules: ["load NRIS/GPU"] },
] as const;

describeSlurm("site profiles' scripts run on the local Slurm with the site's commands stubbed", () => {
  const s = scratch("site-stub-run");
  const stubs = join(s.dir, "stubs");
  beforeAll(() => {
    requireCluster();
    mkdirSync(stubs, { recursive: true });
    for (const [name, text] of [["module", STUB_MODULE], ["singularity", STUB_RUNTIME], ["apptainer", STUB_RUNTIME]] as const) {
      writeFileSync(join(stubs, name), text);
      chmodSync(join(stubs, name), 0o755);
    }
    // The Tier-3 runs call ../../../examples/train.py from runs/tier3/<name>.
    symlinkSync(join(repoRoot, "examples"), join(s.dir, "examples"));
  });
  afterAll(() => s.cleanup());

  for (const { site, runtime, image, flags, modules } of SITES) {
    it(`${site}: the rendered Tier-3 script loads the site's modules and runs the training inside ${runtime} under srun`, async () => {
      const log = join(s.dir, `${site}-stub-log`);
      mkdirSync(log);
      const sweep = await runCli("sweep-gen", [join(repoRoot, "examples/tier3.yaml")], { cwd: s.dir });
      expect(sweep.exitCode, String(sweep.stderr)).toBe(0);
      const run = JSON.parse(String(sweep.stdout).split("\n")[0]!) as { params: Record<string, unknown> };
      run.params.max_steps = 30;
      const rendered = await runCli("slurm-render", ["--profile", site, ...flags, "--container", image, "--out", join(s.dir, `${site}-out`)], { cwd: s.dir, input: JSON.stringify(run) });
      expect(rendered.exitCode, String(rendered.stderr)).toBe(0);
      const script = (records(rendered.stdout)[0]!.script as { path: string }).path;
      // The dev cluster's partition and account, and sizes this machine has; everything else as rendered.
      const sub = await execa("sbatch", ["--parsable", "--partition=debug", "--account=slurmpipe", "--mem=1G", "--cpus-per-task=2", "--time=00:05:00", script], {
        cwd: s.dir,
        env: { PATH: `${stubs}:${process.env.PATH}`, STUB_LOG: log },
        reject: false,
      });
      expect(sub.exitCode, String(sub.stderr)).toBe(0);
      const jobId = String(sub.stdout).trim().split(";")[0]!;
      const states = await waitForJobs([jobId], 120_000);
      const out = readFileSync(join(s.dir, `${site}-out`, readFileSync(script, "utf8").match(/--job-name=(\S+)/)![1]!, "logs", `${jobId}.out`), "utf8");
      expect(states.get(jobId), out).toBe("COMPLETED");
      expect(readFileSync(join(log, "module.log"), "utf8").trim().split("\n")).toEqual([...modules]);
      const calls = readFileSync(join(log, "runtime.log"), "utf8");
      // Inside a job step (srun), with the CPUs of the task passed on to srun, and the site's image.
      expect(calls).toMatch(new RegExp(`^${runtime} step=0 cpus=2 \\|exec .*--bind `, "m"));
      expect(calls).toContain(`image ${image}`);
      // The training really ran in place of the container: the trainer's own loss lines.
      expect(out).toMatch(/loss/i);
    }, 180_000);
  }
});
