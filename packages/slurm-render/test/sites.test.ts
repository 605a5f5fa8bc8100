// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the expected lines are bash code, ${...} is bash's
/**
 * The lumi and olivia profiles against the facts of the site check (profiles/sites-check.md): each
 * assertion names the fact id (L…, O…) its expected line comes from. Goldens in test/golden/sites/.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import type { Overrides } from "../src/index.ts";
import { renderRecords, run, tempDir } from "./helpers.ts";
import { LUMI, LUMI_SIF, OLIVIA, OLIVIA_SIF, TRAIN } from "./site-fixtures.ts";


function expectGolden(text: string, out: string, name: string): void {
  const path = join(import.meta.dirname, "golden", "sites", name);
  // An array's table holds the run directories (under the temporary out dir), so its sha256 varies.
  const normalized = text.split(out).join("<OUT>").replace(/\b[0-9a-f]{64}\b/g, "<TABLE-SHA256>");
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(path, normalized);
  expect(normalized).toBe(readFileSync(path, "utf8"));
}

interface Rendered {
  text: string;
  lines: string[];
  records: Record<string, unknown>[];
  stderr: string;
}

async function renderSite(profile: string, overrides: Overrides, golden: string, options: { sample?: boolean; array?: boolean; runs?: number } = {}): Promise<Rendered> {
  const cwd = tempDir();
  const runs = Array.from({ length: options.runs ?? 1 }, (_, i) => run(`r${i}`, [...TRAIN.slice(0, -1), `seed=${i}`], { group: "g" }));
  const r = await renderRecords(runs, { cwd, profile, overrides, sample: options.sample, array: options.array, check: true });
  expect(r.code, r.stderr).toBe(0);
  const text = readFileSync((r.records[0]!.script as { path: string }).path, "utf8");
  // bash -n of every rendered script (also done by --check above)
  expect((await execa("bash", ["-n"], { input: text, reject: false })).exitCode).toBe(0);
  expectGolden(text, cwd, golden);
  return { text, lines: text.split("\n"), records: r.records, stderr: r.stderr };
}

const launch = (lines: string[]) => lines.find((l) => /^srun |^(apptainer|singularity) /.test(l)) ?? "";

describe("lumi renders what LUMI documents today", () => {
  it("single-node GPU job (small-g)", async () => {
    const { lines, text } = await renderSite("lumi", LUMI, "lumi-gpu1.sbatch");
    // L1: small-g is the sub-node GPU partition
    expect(lines).toContain("#SBATCH --partition=small-g");
    // L16: 1 GCD, 7 cores, 60G per GCD
    expect(lines).toContain("#SBATCH --gpus-per-node=1");
    expect(lines).toContain("#SBATCH --cpus-per-task=7");
    expect(lines).toContain("#SBATCH --mem-per-gpu=60G");
    expect(text).not.toMatch(/^#SBATCH --mem=/m);
    // L16: module use /appl/local/laifs/modules; module load lumi-aif-singularity-bindings
    expect(lines).toContain("module use /appl/local/laifs/modules");
    expect(lines).toContain("module load lumi-aif-singularity-bindings");
    // L14/L15: no LUMI/24.03 stack, no ROCm-6.0 PyTorch container module
    expect(text).not.toMatch(/LUMI\/24\.03|PyTorch\/2\.3\.1-rocm-6\.0/);
    // L12 l.301, L17: srun singularity exec $SIF (SingularityCE, no apptainer, no --nv on AMD)
    expect(launch(lines)).toMatch(new RegExp(`^srun singularity exec (--bind \\S+ )+${LUMI_SIF} bash -c "$`));
    expect(text).not.toContain("apptainer");
    expect(text).not.toContain("--nv");
    // L10 l.65 / L13: the user directories bound by full path
    for (const dir of ["/pfs", "/scratch", "/projappl", "/project", "/flash", "/appl"]) expect(launch(lines)).toContain(`--bind ${dir} `);
    // L5, L2 l.157, L11: where to stage data
    expect(lines).toContain("# LUMI: no local disk on LUMI-G nodes and /tmp is memory counted against the job (L5, L2 l.157): stage data to /flash/<project> (L11)");
    // L12: MIOpen cache per node in /tmp
    expect(lines).toContain('export MIOPEN_USER_DB_PATH="/tmp/$(whoami)-miopen-cache-$SLURM_NODEID"');
    // L12: RCCL settings only for multi-node jobs; no CPU mask on a sub-node job (L3: binding only applies to full nodes)
    expect(text).not.toContain("NCCL_SOCKET_IFNAME");
    expect(text).not.toContain("mask_cpu");
    // L4 (srun --cpus-per-task=7): srun gets the job's CPUs per task
    expect(lines).toContain('if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK; fi');
  });

  it("multi-node full-node job (standard-g, 2 x 8 GCDs): one task per GCD, CPU-bound, 480G per node", async () => {
    const { lines, text } = await renderSite("lumi", { ...LUMI, resources: { ...LUMI.resources, partition: "standard-g", nodes: 2, gpus_per_node: 8 } }, "lumi-multinode.sbatch");
    expect(lines).toContain("#SBATCH --nodes=2");
    // L3/L4: one task per GCD with the 8 documented masks (the 7 cores next to each GCD)
    expect(lines).toContain("#SBATCH --ntasks-per-node=8");
    expect(launch(lines)).toMatch(/^srun --cpu-bind=mask_cpu:0xfe000000000000,0xfe00000000000000,0xfe0000,0xfe000000,0xfe,0xfe00,0xfe00000000,0xfe0000000000 singularity exec /);
    // L16 x 8 = L12's full-node 480G: 60G per GCD scales with the GPUs
    expect(lines).toContain("#SBATCH --mem-per-gpu=60G");
    // L12: NCCL over the four Slingshot interfaces, GDR level PHB (= 3)
    expect(lines).toContain("export NCCL_SOCKET_IFNAME=hsn0,hsn1,hsn2,hsn3");
    expect(lines).toContain("export NCCL_NET_GDR_LEVEL=PHB");
    expect(text).not.toContain("--nv");
    // L16 run_ddp_srun.sh: MASTER_ADDR = first node, WORLD_SIZE; RANK/LOCAL_RANK per task inside the container
    expect(lines).toContain("export SLURMPIPE_HEAD_NODE MASTER_ADDR=$SLURMPIPE_HEAD_NODE");
    expect(lines).toContain('    export RANK=\\"\\$SLURM_PROCID\\" LOCAL_RANK=\\"\\$SLURM_LOCALID\\"');
  });

  it("a multi-node job on part of each node also runs one task per GCD (L16, L3), without the full-node masks", async () => {
    const r = await renderRecords([run("p", TRAIN)], { cwd: tempDir(), profile: "lumi", overrides: { ...LUMI, resources: { ...LUMI.resources, nodes: 2, gpus_per_node: 4, cpus_per_task: 7 } } });
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync((r.records[0]!.script as { path: string }).path, "utf8");
    expect(text).toContain("#SBATCH --ntasks-per-node=4\n");
    expect(text).not.toContain("mask_cpu");
    expect(text).toContain("export RANK=");
  });

  it("one task per GCD: each task gets its own RANK and LOCAL_RANK, all the same MASTER_ADDR (fake srun starting 2 tasks, L16)", async () => {
    const cwd = tempDir();
    const bin = join(cwd, "bin");
    await execa("mkdir", ["-p", bin]);
    const tool = (name: string, body: string) => writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
    tool("srun", 'while [[ "$1" == --* ]]; do shift; done\nSLURM_PROCID=0 SLURM_LOCALID=0 "$@" && SLURM_PROCID=1 SLURM_LOCALID=1 "$@"');
    tool("singularity", 'shift\nwhile [[ "$1" == --* ]]; do [[ "$1" == --bind ]] && shift; shift; done\nshift\nexec "$@"');
    tool("module", "exit 0");
    tool("scontrol", "echo nid005001; echo nid005002");
    tool("python", 'echo "$RANK $LOCAL_RANK $MASTER_ADDR $MASTER_PORT $WORLD_SIZE $LOCAL_WORLD_SIZE $*"');
    const r = await renderRecords([run("d", ["python", "train.py", "x=$(id)"])], { cwd, profile: "lumi", overrides: { ...LUMI, resources: { ...LUMI.resources, partition: "standard-g", nodes: 2, gpus_per_node: 8 } } });
    expect(r.code, r.stderr).toBe(0);
    const env = { PATH: `${bin}:${process.env.PATH}`, SLURM_JOB_ID: "123456", SLURM_JOB_NODELIST: "nid[005001-005002]", SLURM_NTASKS: "16", SLURM_NTASKS_PER_NODE: "8" };
    const out = await execa("bash", [(r.records[0]!.script as { path: string }).path], { env, reject: false });
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.stdout.split("\n")).toEqual(["0 0 nid005001 23456 16 8 train.py x=$(id)", "1 1 nid005001 23456 16 8 train.py x=$(id)"]);
  });

  it("array of the runs: every task inside the container, the array split at the 210-job submit limit (L1, L2 l.104-109)", async () => {
    const { lines, records } = await renderSite("lumi", LUMI, "lumi-array.sbatch", { array: true, runs: 216 });
    expect(launch(lines)).toMatch(/^srun singularity exec /);
    const specs = [...new Set(records.map((r) => (r.script as { array: { spec: string } }).array.spec))];
    expect(specs.sort()).toEqual(["0-209", "0-5"]);
    // the record tells slurm-submit the partition's submit limit (L1)
    expect((records[0]!.script as { site_limits: unknown }).site_limits).toMatchObject({ profile: "lumi", partition: "small-g", max_submit_jobs: 210, max_running_jobs: 200, checked: "2026-12-02" });
  });

  it("sample run: inside the container too", async () => {
    const { lines } = await renderSite("lumi", { ...LUMI, resources: { ...LUMI.resources } }, "lumi-sample.sbatch", { sample: true });
    expect(lines).toContain("#SBATCH --time=00:15:00");
    // L1/L6: the sample goes to small-g (sub-node allocation and billing)
    expect(lines).toContain("#SBATCH --partition=small-g");
    expect(launch(lines)).toMatch(/^srun singularity exec /);
  });

  it("a requeue-capable job appends to its logs, so an earlier segment's log survives a requeue (L2 l.50-66)", async () => {
    const r = await renderRecords([run("x", TRAIN)], { cwd: tempDir(), profile: "lumi", overrides: { ...LUMI, requeueOnSignal: 600 } });
    const lines = readFileSync((r.records[0]!.script as { path: string }).path, "utf8").split("\n");
    expect(lines).toContain("#SBATCH --requeue");
    expect(lines).toContain("#SBATCH --open-mode=append");
  });

  it("a GPU job without --container is refused, saying which container is needed (L9: host python has no torch)", async () => {
    const r = await renderRecords([run("x", TRAIN)], { cwd: tempDir(), profile: "lumi", overrides: { resources: { account: "project_465000123" } } });
    expect(r.code).toBe(1);
    const message = (r.records[0]!.error as { message: string }).message;
    expect(message).toMatch(/needs launcher\.container: set --container/);
    expect(message).toContain("/appl/local/laifs/containers/");
    expect(message).toContain("OS Python 3.6");
  });
});

describe("olivia renders what NRIS documents today", () => {
  it("single-node GPU job (accel)", async () => {
    const { lines } = await renderSite("olivia", OLIVIA, "olivia-gpu1.sbatch");
    // O7: node-local scratch
    expect(lines).toContain("# Olivia: node-local scratch is $SCRATCH = /cluster/gpuscratch/jobs/$SLURM_JOB_ID, deleted at job end; /cluster/work/projects is purged after 21-42 days (O7)");
    // O1: accel is the GPU partition; O3: module load NRIS/GPU
    expect(lines).toContain("#SBATCH --partition=accel");
    expect(lines).toContain("module load NRIS/GPU");
    // O3/O4: srun apptainer exec --nv; O9: /cluster bound so code and venvs there are visible
    expect(launch(lines)).toBe(`srun apptainer exec --nv --bind /cluster ${OLIVIA_SIF} bash -c "`);
    // Sigma2 running_mpi_jobs.md l.170: srun does not inherit --cpus-per-task
    expect(lines).toContain('if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK; fi');
  });

  it("multi-node job: srun on every node, the NCCL/libfabric settings and the host libfabric bind (O4, O5, O6)", async () => {
    const { lines } = await renderSite("olivia", { ...OLIVIA, resources: { ...OLIVIA.resources, nodes: 2, gpus_per_node: 4, ntasks_per_node: 4 }, binds: ["/users/me/code"] }, "olivia-multinode.sbatch");
    expect(lines).toContain("#SBATCH --nodes=2");
    // O5 PyTorchMultiNode: srun apptainer exec --nv; O4: --bind /opt/cray/libfabric/2.3.1/lib64:/usr/lib64 (O10: libfabric 2.3.1)
    expect(launch(lines)).toBe(`srun apptainer exec --nv --bind /cluster --bind /opt/cray/libfabric/2.3.1/lib64:/usr/lib64 --bind /users/me/code ${OLIVIA_SIF} bash -c "`);
    // O5: FI_PROVIDER=cxi, FI_CXI_RX_MATCH_MODE=hybrid, NCCL_PROTO=^LL128; O6: NCCL_SOCKET_IFNAME, NCCL_NET_GDR_LEVEL
    for (const line of ["export FI_PROVIDER=cxi", "export FI_CXI_RX_MATCH_MODE=hybrid", "export NCCL_PROTO=^LL128", "export NCCL_SOCKET_IFNAME=hsn0,hsn1,hsn2,hsn3", "export NCCL_NET_GDR_LEVEL=PHB"]) {
      expect(lines).toContain(line);
    }
  });

  it("multi-node job: one task per node, torchrun with a c10d rendezvous on the first node (O5 PyTorchMultiNode)", async () => {
    const { lines, text } = await renderSite("olivia", { ...OLIVIA, resources: { ...OLIVIA.resources, nodes: 2, gpus_per_node: 4 } }, "olivia-torchrun.sbatch");
    expect(lines).toContain("#SBATCH --ntasks-per-node=1");
    expect(lines).toContain('SLURMPIPE_HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)');
    expect(text).toContain('    torchrun --nnodes=\\"\\$SLURM_NNODES\\" --nproc_per_node=4 --rdzv_id=\\"\\$SLURM_JOB_ID\\" --rdzv_backend=c10d --rdzv_endpoint=\\"\\$SLURMPIPE_HEAD_NODE:29500\\" train.py lr=0.1 seed=0\n');
  });

  it("the torchrun launch reaches torchrun with every argument, in single and array scripts (fake srun, apptainer, scontrol, torchrun)", async () => {
    for (const array of [false, true]) {
      const cwd = tempDir();
      const bin = join(cwd, "bin");
      await execa("mkdir", ["-p", bin]);
      const tool = (name: string, body: string) => writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
      tool("srun", 'while [[ "$1" == --* ]]; do shift; done\nexec "$@"');
      tool("apptainer", 'shift\nwhile [[ "$1" == --* ]]; do [[ "$1" == --bind ]] && shift; shift; done\nshift\nexec "$@"');
      tool("module", "exit 0");
      tool("scontrol", "echo gpu-1-7; echo gpu-1-8");
      tool("torchrun", 'printf "%s\\n" "$@"');
      const runs = [run("t0", ["python", "train.py", "a=$(id)", "it's"], { group: "g" }), run("t1", ["python", "train.py", "b"], { group: "g" })];
      const r = await renderRecords(runs, { cwd, profile: "olivia", array, overrides: { ...OLIVIA, resources: { ...OLIVIA.resources, nodes: 2, gpus_per_node: 4 } } });
      expect(r.code, r.stderr).toBe(0);
      const env = { PATH: `${bin}:${process.env.PATH}`, SLURM_NNODES: "2", SLURM_JOB_ID: "42", SLURM_JOB_NODELIST: "gpu-1-[7-8]", SLURM_ARRAY_TASK_ID: "0" };
      const out = await execa("bash", [(r.records[0]!.script as { path: string }).path], { env, reject: false });
      expect(out.exitCode, out.stderr).toBe(0);
      expect(out.stdout.split("\n")).toEqual(["--nnodes=2", "--nproc_per_node=4", "--rdzv_id=42", "--rdzv_backend=c10d", "--rdzv_endpoint=gpu-1-7:29500", "train.py", "a=$(id)", "it's"]);
    }
  });

  it("array: at most 1000 tasks per array (O8)", async () => {
    const { records } = await renderSite("olivia", OLIVIA, "olivia-array.sbatch", { array: true, runs: 1001 });
    const specs = [...new Set(records.map((r) => (r.script as { array: { spec: string } }).array.spec))];
    expect(specs.sort()).toEqual(["0-0", "0-999"]);
  });

  it("sample run", async () => {
    const { lines } = await renderSite("olivia", OLIVIA, "olivia-sample.sbatch", { sample: true });
    expect(lines).toContain("#SBATCH --time=00:15:00");
    // O1: the devel QoS for short test jobs
    expect(lines).toContain("#SBATCH --qos=devel");
    expect(launch(lines)).toMatch(/^srun apptainer exec --nv --bind \/cluster /);
  });
});
