/** What the site-profile tests render with: a training command, each site's account and container. */
import type { Overrides } from "../src/index.ts";

export const TRAIN = ["python", "train.py", "lr=0.1", "seed=0"];
export const LUMI_SIF = "/appl/local/laifs/containers/lumi-multitorch/lumi-multitorch-full.sif";
export const OLIVIA_SIF = "/cluster/work/support/container/pytorch_nvidia_25.06_arm64.sif";
export const LUMI: Overrides = { resources: { account: "project_465000123" }, container: LUMI_SIF };
export const OLIVIA: Overrides = { resources: { account: "nn1234k" }, container: OLIVIA_SIF };
