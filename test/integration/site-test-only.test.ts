import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { records, repoRoot, runCli } from "../support/cli.ts";
import { scratch } from "../e2e/support/recipe.ts";

// Issue #16, "Tested here": the scripts the lumi and olivia profiles render are judged by a real
// slurmctld shaped like the site (`SLURM_DEV_SITE=<site> scripts/slurm-dev up`: the site's node
// shapes, MaxNodes, MaxTime and MaxArraySize, written from the site documentation independently of
// the profiles). What slurm-render accepts, `sbatch --test-only` accepts; what it refuses as over a
// site limit, it renders with --force, and the site's controller refuses too, with Slurm's message.
const inCI = process.env.CI === "true";
const isRoot = process.getuid?.() === 0;
if (!isRoot && !inCI) process.stderr.write("skipping site --test-only tests: starting a site controller needs root\n");
const describeSite = (isRoot || inCI ? describe : describe.skip) as typeof describe;

const SITES = {
  lumi: ["--account", "project_465000123", "--container", "/appl/local/laifs/containers/lumi-multitorch-latest.sif"],
  olivia: ["--account", "nn1234k", "--container", "/cluster/work/support/container/pytorch_nvidia_25.06_arm64.sif"],
} as const;
type Site = keyof typeof SITES;

async function siteUp(site: Site): Promise<string> {
  const r = await execa("bash", [join(repoRoot, "scripts/slurm-dev"), "up"], { env: { SLURM_DEV_SITE: site }, reject: false, timeout: 180_000 });
  expect(r.exitCode, `SLURM_DEV_SITE=${site} scripts/slurm-dev up: ${r.stderr}`).toBe(0);
  const conf = /export SLURM_CONF=(\S+)/.exec(String(r.stdout))?.[1];
  expect(conf, String(r.stdout)).toBeTruthy();
  return conf!;
}

/** `sbatch --test-only` on the site's controller: Slurm's one-line answer and whether it would run. */
async function testOnly(conf: string, script: string, extra: string[] = []): Promise<{ ok: boolean; answer: string }> {
  const r = await execa("sbatch", ["--test-only", ...extra, script], { env: { SLURM_CONF: conf }, reject: false, timeout: 30_000 });
  const answer = `${r.stdout}${r.stderr}`.trim();
  return { ok: r.exitCode === 0 && /to start at/.test(answer), answer };
}

describeSite("site-shaped controllers judge what the site profiles render (sbatch --test-only)", () => {
  const s = scratch("site-test-only");
  const conf: Partial<Record<Site, string>> = {};

  beforeAll(async () => {
    conf.lumi = await siteUp("lumi");
    conf.olivia = await siteUp("olivia");
  }, 400_000);
  afterAll(() => s.cleanup());

  async function render(site: Site, input: string, flags: string[], name: string) {
    const out = join(s.dir, name);
    const r = await runCli("slurm-render", ["--profile", site, ...SITES[site], "--out", out, ...flags], { cwd: s.dir, input });
    return { exitCode: r.exitCode, stderr: String(r.stderr), records: records(r.stdout) };
  }
  const scriptOf = (rec: Record<string, unknown>) => (rec.script as { path: string }).path;
  const sweep = async (yaml: string) => {
    const r = await runCli("sweep-gen", [yaml], { cwd: s.dir });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    return String(r.stdout);
  };

  for (const site of ["lumi", "olivia"] as const) {
    it(`${site}: every script of the 216-run Tier-3 sweep would start on the site's partitions`, async () => {
      const runs = await sweep(join(repoRoot, "examples/tier3.yaml"));
      const r = await render(site, runs, [], `${site}-tier3`);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.records).toHaveLength(216);
      const scripts = [...new Set(r.records.map(scriptOf))];
      for (const script of scripts) {
        const t = await testOnly(conf[site]!, script);
        expect(t.ok, `${script}: ${t.answer}`).toBe(true);
      }
    }, 300_000);

    it(`${site}: the Tier-3 sweep as arrays: every array part would start`, async () => {
      const runs = await sweep(join(repoRoot, "examples/tier3.yaml"));
      const r = await render(site, runs, ["--array"], `${site}-tier3-array`);
      expect(r.exitCode, r.stderr).toBe(0);
      const scripts = [...new Set(r.records.map(scriptOf))];
      expect(scripts.length).toBeGreaterThan(0);
      for (const script of scripts) {
        const t = await testOnly(conf[site]!, script);
        expect(t.ok, `${script}: ${t.answer}`).toBe(true);
        expect(readFileSync(script, "utf8")).toMatch(/^#SBATCH --array=/m);
      }
    }, 120_000);
  }

  // Multi-node, multi-GPU launches as each site documents them: whole nodes on two nodes.
  const MULTI: { site: Site; flags: string[]; nodes: RegExp }[] = [
    { site: "lumi", flags: ["--partition", "standard-g", "--nodes", "2", "--gpus-per-node", "8", "--time", "12:00:00"], nodes: /on nodes nid\[005000-005001\]/ },
    { site: "olivia", flags: ["--nodes", "2", "--gpus-per-node", "4", "--time", "1-00:00:00"], nodes: /on nodes gpu-1-\[1-2\]/ },
  ];
  for (const { site, flags, nodes } of MULTI) {
    it(`${site}: a two-node ${flags.join(" ")} launch would start on two nodes`, async () => {
      const runs = await sweep(join(repoRoot, "examples/tier3.yaml"));
      const first = runs.split("\n")[0]!;
      const r = await render(site, first, flags, `${site}-multi`);
      expect(r.exitCode, r.stderr).toBe(0);
      const script = scriptOf(r.records[0]!);
      const t = await testOnly(conf[site]!, script);
      expect(t.ok, t.answer).toBe(true);
      expect(t.answer).toMatch(nodes);
      expect(readFileSync(script, "utf8")).toMatch(/^#SBATCH --nodes=2$/m);
    }, 60_000);
  }

  // Requests over a documented limit: slurm-render refuses them (naming the limit), renders them
  // with --force, and the site's controller refuses the rendered script with Slurm's own words.
  const OVER: { site: Site; flags: string[]; limit: RegExp; slurm: RegExp }[] = [
    { site: "lumi", flags: ["--nodes", "5"], limit: /small-g's limit \(at most 4/, slurm: /Node count specification invalid/ },
    { site: "lumi", flags: ["--time", "4-00:00:00"], limit: /max time|time/i, slurm: /Requested time limit is invalid/ },
    { site: "lumi", flags: ["--partition", "dev-g", "--time", "04:00:00"], limit: /dev-g/, slurm: /Requested time limit is invalid/ },
    { site: "lumi", flags: ["--gpus-per-node", "9"], limit: /gpus per node|GPUs per node/i, slurm: /Requested node configuration is not available/ },
    { site: "lumi", flags: ["--cpus-per-task", "57"], limit: /cores per node/, slurm: /Requested node configuration is not available/ },
    { site: "lumi", flags: ["--mem", "481G"], limit: /mem|memory/i, slurm: /Requested node configuration is not available/ },
    { site: "olivia", flags: ["--time", "8-00:00:00"], limit: /time/i, slurm: /Requested time limit is invalid/ },
    { site: "olivia", flags: ["--gpus-per-node", "5"], limit: /gpus per node|GPUs per node/i, slurm: /Requested node configuration is not available/ },
  ];
  OVER.forEach(({ site, flags, limit, slurm }, i) => {
    it(`${site} ${flags.join(" ")}: refused by slurm-render and by the site's slurmctld`, async () => {
      const runs = await sweep(join(repoRoot, "examples/tier3.yaml"));
      const first = runs.split("\n")[0]!;
      const refused = await render(site, first, flags, `${site}-over-${i}`);
      expect(refused.exitCode).toBe(1);
      const error = refused.records[0]!.error as { code: string; message: string };
      expect(error.code).toBe("over_site_limit");
      expect(error.message).toMatch(limit);
      const forced = await render(site, first, [...flags, "--force"], `${site}-forced-${i}`);
      expect(forced.exitCode, forced.stderr).toBe(0);
      const t = await testOnly(conf[site]!, scriptOf(forced.records[0]!));
      expect(t.ok, t.answer).toBe(false);
      expect(t.answer).toMatch(slurm);
    }, 60_000);
  });

  it("olivia: 1,001 runs as an array are split into parts the site accepts; one 1,001-task array is refused", async () => {
    const yaml = join(s.dir, "wide.yaml");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(yaml, 'command: [python3, train.py]\nargs: hydra\nname: "wide_s{seed}"\ndir: runs/wide\ngrid: { seed: 0..1000 }\nresources: { time: "01:00:00" }\n');
    const runs = await sweep(yaml);
    const r = await render("olivia", runs, ["--array"], "olivia-wide");
    expect(r.exitCode, r.stderr).toBe(0);
    const scripts = [...new Set(r.records.map(scriptOf))];
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const script of scripts) {
      const t = await testOnly(conf.olivia!, script);
      expect(t.ok, `${script}: ${t.answer}`).toBe(true);
    }
    // The same script as one array of 1,001 tasks (indices 0-1000) is over Olivia's limit.
    const whole = await testOnly(conf.olivia!, scripts[0]!, ["--array=0-1000"]);
    expect(whole.ok).toBe(false);
    expect(whole.answer).toMatch(/Invalid job array specification/);
  }, 120_000);
});
