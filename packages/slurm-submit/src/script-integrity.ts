import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type Item, locate } from "./items.ts";

/**
 * The script a run is submitted with must be the one slurm-render recorded (`script.sha256`): a
 * script rewritten since (a re-render of a changed sweep, an edit by hand) would make the ledger
 * and the record describe a job that runs something else. slurm-render refuses to overwrite a
 * submitted script; this is the second line of defence, checked right before sbatch.
 * Returns the error message for the first run whose recorded hash differs, else undefined.
 */
export async function scriptChangedMessage(script: string, items: readonly Item[]): Promise<string | undefined> {
  const recorded = items.filter((i) => i.scriptSha256 !== undefined);
  if (recorded.length === 0) return undefined;
  const actual = await fileSha256(script);
  const stale = recorded.find((i) => i.scriptSha256 !== actual);
  if (!stale) return undefined;
  return (
    `${locate(stale)}: script ${script} changed since it was rendered (sha256 ${actual.slice(0, 12)}..., the record says ${stale.scriptSha256!.slice(0, 12)}...); ` +
    "not submitted: re-render the run (slurm-render) and submit the new record"
  );
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
