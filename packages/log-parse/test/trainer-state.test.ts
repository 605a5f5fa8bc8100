import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { reportForRecord } from "../src/index.ts";
import { logHistoryObjects, pythonJson } from "../src/trainer-state.ts";

/**
 * trainer_state.json as HF Trainer writes it: TrainerState.save_to_json is
 * `json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"`, so Python's json module
 * writes the file here (its bare NaN tokens included), from a log_history shaped like the Trainer's:
 * train dicts every 10 steps (with the NaN filter's `loss: 0.0` and `grad_norm: NaN` after the
 * blow-up at step 60), eval dicts at 50 and 100, and the final train_runtime dict.
 */
const WRITER = String.raw`
import dataclasses, json, math, sys
@dataclasses.dataclass
class TrainerState:
    best_metric: float = None
    best_model_checkpoint: str = None
    epoch: float = None
    eval_steps: int = 50
    global_step: int = 0
    is_hyper_param_search: bool = False
    is_local_process_zero: bool = True
    is_world_process_zero: bool = True
    log_history: list = None
    logging_steps: int = 10
    max_steps: int = 100
    num_train_epochs: int = 1
    save_steps: int = 50
    total_flos: float = 0.0
    train_batch_size: int = 8
    def save_to_json(self, json_path):
        json_string = json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"
        with open(json_path, "w", encoding="utf-8") as f:
            f.write(json_string)
upto = int(sys.argv[2])
hist = []
for step in range(10, upto + 1, 10):
    bad = step >= 60
    hist.append({"epoch": step / 100, "grad_norm": math.nan if bad else 2.0 / step, "learning_rate": 5e-05 * (1 - step / 100), "loss": 0.0 if bad else round(3.0 - step / 40, 4), "step": step})
    if step % 50 == 0:
        hist.append({"epoch": step / 100, "eval_loss": math.nan if bad else 2.1, "eval_runtime": 1.25, "step": step})
if upto == 100:
    hist.append({"epoch": 1.0, "step": 100, "total_flos": 1.2e12, "train_loss": 1.1, "train_runtime": 61.5})
TrainerState(epoch=upto / 100, global_step=upto, log_history=hist).save_to_json(sys.argv[1])
`;

function writeState(path: string, upto: number): void {
  const r = spawnSync("python3", ["-c", WRITER, path, String(upto)], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "lp-trainer-state-"));
  mkdirSync(join(dir, "checkpoint-50"));
  writeState(join(dir, "checkpoint-50", "trainer_state.json"), 50);
  utimesSync(join(dir, "checkpoint-50", "trainer_state.json"), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  writeState(join(dir, "trainer_state.json"), 100);
  // The console showed only two of the dicts (logging went to a file).
  writeFileSync(join(dir, "out"), "{'loss': 2.75, 'grad_norm': 0.2, 'learning_rate': 4.5e-05, 'epoch': 0.1}\n{'loss': 2.5, 'grad_norm': 0.1, 'learning_rate': 4e-05, 'epoch': 0.2}\n");
  return dir;
}

describe("HF Trainer trainer_state.json (issue #15)", () => {
  it("log_history is read from the newest trainer_state.json under dir and preferred to the console's fewer values", async () => {
    const dir = runDir();
    expect(readFileSync(join(dir, "trainer_state.json"), "utf8")).toContain('"grad_norm": NaN');
    const r = await reportForRecord({ id: "r", name: "r", dir, logs: { stdout: join(dir, "out") } });
    expect(r.files?.find((f) => f.role === "trainer_state")).toMatchObject({ path: join(dir, "trainer_state.json"), exists: true, entries: 13 });
    expect(r.loss).toMatchObject({ metric: "loss", first: 2.75, points: 10, trend: "NAN" });
    expect(r.series?.eval_loss?.map((p) => p.step)).toEqual([50, 100]);
    expect(r.series?.lr?.[0]).toMatchObject({ step: 10, value: 4.5e-5 });
    // The NaN the console's filter hid (`loss: 0.0`) is in grad_norm: the run blew up at step 60.
    expect(r.failures?.[0]).toMatchObject({ class: "NAN_LOSS", message: "grad_norm became NaN at step 60" });
    expect(r.failures?.[0]?.evidence?.[0]?.file).toBe(join(dir, "trainer_state.json"));
  });

  it("a truncated file (a run still writing, or killed) gives its complete entries and a note, never an error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lp-trainer-state-cut-"));
    const path = join(dir, "trainer_state.json");
    writeState(path, 100);
    const whole = readFileSync(path, "utf8");
    const entries = logHistoryObjects(whole).objects.length;
    writeFileSync(path, whole.slice(0, Math.floor(whole.length * 0.6)));
    const { objects, complete } = logHistoryObjects(readFileSync(path, "utf8"));
    expect(complete).toBe(false);
    expect(objects.length).toBeGreaterThan(0);
    expect(objects.length).toBeLessThan(entries);
    const r = await reportForRecord({ id: "r", name: "r", dir });
    const f = r.files?.find((x) => x.role === "trainer_state") as { entries: number; note: string } | undefined;
    expect(f?.entries).toBe(objects.length);
    expect(f?.note).toMatch(/log_history ends early \(a run still writing, or killed\): read its \d+ complete entries/);
    expect(r.series?.loss?.length).toBeGreaterThan(0);
    expect((r as { error?: unknown }).error).toBeUndefined();
  });

  it("Python's non-finite tokens become strings outside JSON strings only", () => {
    expect(JSON.parse(pythonJson('{"a": NaN, "b": -Infinity, "c": Infinity, "d": "NaN and Infinity", "e": "q\\"NaN"}'))).toEqual({ a: "NaN", b: "-Infinity", c: "Infinity", d: "NaN and Infinity", e: 'q"NaN' });
  });
});
