import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { reportForRecord } from "../src/index.ts";

// A real transformers 5.18 run (test/fixtures/hf5-trainer/SOURCE.md): the console prints as many
// loss dicts as trainer_state.json holds, rounded and without steps. The report's series is the
// file's, with the Trainer's steps and full values, not the console's line order and 4 digits.
const dir = join(import.meta.dirname, "fixtures/hf5-trainer");

describe("HF Trainer 5: console dicts beside trainer_state.json", () => {
  it("the loss series is trainer_state.json's (steps 5, 10, ...; exact values), not the console's", async () => {
    const r = await reportForRecord({ id: "hf", name: "hf", dir, logs: { stdout: join(dir, "stdout.log") } });
    const state = JSON.parse(readFileSync(join(dir, "hf/trainer_state.json"), "utf8")) as { log_history: { step: number; loss?: number }[] };
    const logged = state.log_history.filter((h) => h.loss !== undefined).map((h) => ({ step: h.step, value: h.loss }));
    expect(logged).toHaveLength(12);
    expect(r.series!.loss!.map((p) => ({ step: p.step, value: p.value }))).toEqual(logged);
    expect(r.loss).toMatchObject({ first: logged[0]!.value, last: logged.at(-1)!.value, trend: "DECREASING" });
  });
});
