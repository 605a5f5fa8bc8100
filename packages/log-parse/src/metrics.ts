import { NUMBER_SOURCE, parseNumber } from "./numbers.ts";

/**
 * Metric extraction from one cleaned segment, for the formats of shared/reference/log-formats.md:
 * PyTorch Lightning tqdm bars, HF Trainer dicts (numbers or strings), torchtune (bar description and
 * StdoutLogger), nanoGPT, Megatron-LM, DeepSpeed, Keras progbars, fairseq, timm / torchvision /
 * mnist style, and plain `key=value` / `key: value`.
 */
export type Emit = (name: string, step: number | undefined, raw: string, value: number) => void;

const N = NUMBER_SOURCE;
/** A value must end at a separator, so `929.71ms` or `m7ey` are not read as numbers. */
const END = String.raw`(?=$|[\s,;|)\]}'"])`;

const HF_PAIR = new RegExp(String.raw`['"]([^'"]{1,64})['"]\s*:\s*['"]?(${N})['"]?` + END, "g");
/** Also a bar without its glyphs (`Epoch 0:  97% 1651/1702 [...]`: tqdm with no room for them, or a notebook's text output). */
const PL_BAR = /^\s*Epoch (\d+)(?:\/\d+)?:\s*(?:\d+%(?:\|[^|]*\|)?\s*(\d+)\/(\d+)|:\s*(\d+)it)\s*\[([^\]]*)\]?/;
/**
 * Lightning's RichProgressBar, one frame per epoch on a non-TTY: `Epoch 3/3  ━━━━━━━━ 30/30
 * 0:00:00 • 0:00:00 576.14it/s train_loss: 0.038` (the epoch counts from 0, as in a tqdm bar).
 */
const RICH_BAR = /^\s*Epoch (\d{1,9})\/\d{1,9}\s+[━╸╺─]+\s+(\d{1,12})\/(\d{1,12})\s/;
const EQ_PAIR = new RegExp(String.raw`(?:^|[\s,|{(\[])([A-Za-z][\w./-]{0,63})=(${N})` + END, "g");
const TT_BAR = new RegExp(String.raw`^\s*(\d+)\|(\d+)\|Loss: (${N})`);
const TT_STEP = /^\s*Step (\d+) \| (.*)$/;
const COLON_NOSPACE_PAIR = new RegExp(String.raw`([A-Za-z][\w./-]{0,63}):(${N})` + END, "g");
const NANOGPT_ITER = new RegExp(String.raw`\biter (\d+): loss (${N})(?:, time (${N})ms)?(?:, mfu (${N})%)?`);
const NANOGPT_EVAL = new RegExp(String.raw`\bstep (\d+): train loss (${N}), val loss (${N})`);
const MEGATRON = /\biteration\s+(\d+)\/\s*\d+\s*\|/;
/**
 * The key starts and ends with a non-space, so the spaces around it belong to the `\s*` on either
 * side only: `\s*([^|:]{1,64}?)\s*` could divide a run of n spaces among its three parts in
 * O(n^2) ways (`| <10,000 spaces>x|` took seconds). The same keys as before (trimmed, 1-64 chars).
 */
const MEGATRON_PAIR = new RegExp(String.raw`\|\s*([^|:\s](?:[^|:]{0,62}[^|:\s])?)\s*:\s*(${N})\s*(?=\|)`, "g");
/**
 * `(\d+)[^|]*` could share a run of digits between its parts, and `[^|]*` ran to the end of the
 * line from every repeat of the phrase; Megatron prints ` on validation set ` there.
 */
const MEGATRON_VAL = new RegExp(String.raw`validation loss at iteration (\d{1,20})(?!\d)[^|]{0,256}\|\s*lm loss value:\s*(${N})`);
const DEEPSPEED = new RegExp(String.raw`\[Rank \d+\] step=(\d+), skipped=(\d+), lr=\[(${N})`);
const KERAS_EPOCH = /^\s*Epoch (\d+)\/(\d+)\s*$/;
const KERAS_BAR = /^\s*(\d+)\/(\d+) (?:\[[=>.]*\]|[━─]+|-)/;
/**
 * A Keras callback prints onto the progbar line with nothing between: `loss: 28.8539Batch 2: Invalid
 * loss, terminating training` (TerminateOnNaN), `Epoch 5: early stopping` (EarlyStopping), `Epoch 3:
 * val_loss improved ...` (ModelCheckpoint). The value then ends where such a message starts.
 */
const KERAS_PAIR = new RegExp(String.raw` - ([A-Za-z][\w/.]{0,63}): (${N})(?:${END}|(?=(?:Batch|Epoch) \d))`, "g");
const FAIRSEQ_PIPE_PAIR = new RegExp(String.raw`\| ([a-z][\w]{0,63}) (${N}) (?=\|)`, "g");
const COLON_PAIR = new RegExp(String.raw`(?:^|[\s,|{(\[])([A-Za-z][\w./-]{0,63}(?: loss)?)\s*:\s+(${N})` + END, "g");
/** `loss:0.6661` (no space after the colon, as many print loops write it): only a loss key, `line:24` is no metric. */
const NOSPACE_LOSS = new RegExp(String.raw`(?:^|[\s,|{(\[])((?:[A-Za-z][\w./-]{0,40})?[lL]oss):(${N})` + END, "g");
/** `[Loss] 51566519.44 | ... | [step]    89` (bracketed keys, LION's and other trainers' loggers). */
const BRACKET_PAIR = new RegExp(String.raw`\[([A-Za-z][\w./-]{0,63})\] {1,16}(${N})` + END, "g");
const SPACED_LOSS = new RegExp(String.raw`\b([A-Za-z][\w./-]{0,40}[lL]oss) (${N})` + END, "g");
const BRACKET_STEP = /\[(\d+)\]\s*\[\s*(\d+)\/(\d+)\]/;
/**
 * mmcv / mmengine (`Epoch [1][50/5808]`, `Epoch(train)  [1][ 500/2931]`): epochs count from 1, so
 * the step is (epoch - 1) x iterations + iteration. pytorch/examples' `Epoch: [0][415/1736]` (with
 * a colon) counts from 0 and is BRACKET_STEP's.
 */
const MM_STEP = /\bEpoch(?:\(train\))? {1,4}\[(\d{1,9})\]\[ {0,12}(\d{1,12})\/(\d{1,12})\]/;
/**
 * A bare `loss 6.3278` / `Loss 0.5844 (0.61)` (plain print loops, the imagenet example), with the
 * one word before it when there is one: `Train loss 1.59` is train_loss, `Val loss 2.9` val_loss.
 */
const BARE_LOSS = new RegExp(String.raw`(?:^|[\s,;|:\]])(?:([A-Za-z]{1,20}) )?([lL]oss) (${N})` + END, "g");
/** The classic PyTorch examples: `Epoch [1/5], Step [125/400], Loss: 0.1234` (1-based epoch). */
const EPOCH_STEP = /\bEpoch \[(\d{1,9})\/\d{1,9}\],? Step \[(\d{1,12})\/(\d{1,12})\]/;
/** `step 10 loss ...`, `Iter 7: ...`, `iteration 3 ...`: a step number given by a word. */
const STEP_WORD = /\b(?:[Ss]tep|[Ii]ter(?:ation)?)[ :#]{0,3}(\d{1,12})\b/;
/** mlx-lm: `Iter 25: Train loss 1.593, Learning Rate 1.000e-05, It/sec ...` and `Iter 1: Val loss 2.936, Val took 5.265s`. */
const MLX_ITER = new RegExp(String.raw`^\s*Iter (\d{1,12}): (Train|Val) loss (${N})(?:, Learning Rate (${N}))?`);

/** Keys that are axes or bookkeeping, not metrics. */
export const NOT_METRICS = new Set(["v_num", "epoch", "step", "global_step", "iter", "iteration", "it", "num_updates", "updates", "rank", "local_rank", "seed", "pid", "gpu", "device", "batch", "skipped"]);
export const STEP_KEYS = ["global_step", "step", "iteration", "iter", "num_updates", "it"];
const ALIASES: Record<string, string> = {
  learning_rate: "lr",
  gnorm: "grad_norm",
  "lm_loss_value": "val_loss",
  "tokens_per_second_per_gpu": "tokens_per_second_per_gpu",
};

const NAME_CACHE = new Map<string, string>();

/** `Learning Rate` -> `learning_rate` -> `lr` (cached: the same few keys repeat on every line). */
export function metricName(raw: string): string {
  let n = NAME_CACHE.get(raw);
  if (n === undefined) {
    const norm = raw.trim().toLowerCase().replace(/[\s-]+/g, "_");
    n = ALIASES[norm] ?? norm;
    if (NAME_CACHE.size < 10_000) NAME_CACHE.set(raw, n);
  }
  return n;
}

/** State a file's extractor keeps between lines (epoch of Keras / Lightning bars). */
export class ExtractorState {
  kerasEpoch: number | undefined;
  plEpoch: number | undefined;
  plBase = 0;
  plMax = 0;
}

function pairs(re: RegExp, text: string, from: number, out: [string, string][]): [string, string][] {
  re.lastIndex = from;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push([m[1]!, m[2]!]);
  return out;
}

function emitPairs(list: [string, string][], step: number | undefined, emit: Emit, skipStepKeys = true): void {
  for (const [k, raw] of list) {
    const name = metricName(k);
    if (skipStepKeys && NOT_METRICS.has(name)) continue;
    const v = parseNumber(raw);
    if (v !== undefined) emit(name, step, raw, v);
  }
}

const STEP_RANK = new Map(STEP_KEYS.map((k, i) => [k, i]));

/**
 * The step a line's pairs give: the first valid value (a whole number >= 0) of the highest-ranked
 * STEP_KEYS key present. One pass, one name lookup per pair (a lookup per key and pair was a
 * tenth of log-parse's time on HF dicts).
 */
function stepFrom(list: [string, string][]): number | undefined {
  let bestRank = STEP_KEYS.length;
  let best: number | undefined;
  for (const [k, raw] of list) {
    const rank = STEP_RANK.get(metricName(k));
    if (rank === undefined || rank >= bestRank) continue;
    const v = Number(raw);
    if (Number.isInteger(v) && v >= 0) {
      bestRank = rank;
      best = v;
    }
  }
  return best;
}

/**
 * Extracts the metrics of one segment. Called only for segments that mention a loss, a Keras
 * epoch header, or a DeepSpeed step line (the caller's cheap test), so most lines never get here.
 */
export function extractMetrics(text: string, state: ExtractorState, emit: Emit): void {
  // (each format is tried behind a cheap literal test: most lines are one format's)
  let m: RegExpExecArray | null;
  const c = text.indexOf("{'") >= 0 ? text.indexOf("{'") : text.indexOf('{"');
  if (c >= 0 && (text.includes("loss") || text.includes("_runtime"))) {
    // HF Trainer dict (also fairseq --log-format json): numbers or quoted numbers.
    const list = pairs(HF_PAIR, text, c, []);
    if (list.length > 0) {
      emitPairs(list, stepFrom(list), emit);
      return;
    }
  }
  if ((m = PL_BAR.exec(text))) {
    const epoch = Number(m[1]);
    const n = Number(m[2] ?? m[4]);
    const total = m[3] !== undefined ? Number(m[3]) : undefined;
    if (n === 0) return; // a fresh bar: its postfix still shows the previous epoch's values
    let step: number;
    if (total !== undefined) step = epoch * total + n;
    else {
      if (state.plEpoch !== epoch) {
        if (state.plEpoch !== undefined) state.plBase = state.plMax;
        state.plEpoch = epoch;
      }
      step = state.plBase + n;
      state.plMax = Math.max(state.plMax, step);
    }
    emitPairs(pairs(EQ_PAIR, m[5] ?? "", 0, []), step, emit);
    return;
  }
  if (text.includes("━") && (m = RICH_BAR.exec(text))) {
    const n = Number(m[2]);
    if (n === 0) return; // a fresh bar: its metrics still show the previous epoch's values
    emitPairs(pairs(COLON_PAIR, text, m[0].length - 1, []), Number(m[1]) * Number(m[3]) + n, emit);
    return;
  }
  if ((m = TT_BAR.exec(text))) {
    const v = parseNumber(m[3]!);
    if (v !== undefined) emit("loss", Number(m[2]), m[3]!, v);
    return;
  }
  if (text.includes("Step ") && (m = TT_STEP.exec(text))) {
    emitPairs(pairs(COLON_NOSPACE_PAIR, m[2]!, 0, []), Number(m[1]), emit);
    return;
  }
  if (text.includes("iter ") && (m = NANOGPT_ITER.exec(text))) {
    const step = Number(m[1]);
    const v = parseNumber(m[2]!);
    if (v !== undefined) emit("loss", step, m[2]!, v);
    if (m[4] !== undefined) {
      const mfu = parseNumber(m[4]);
      if (mfu !== undefined && mfu >= 0) emit("mfu", step, m[4], mfu); // -100% is nanoGPT's "not yet measured"
    }
    return;
  }
  if (text.includes("Iter ") && (m = MLX_ITER.exec(text))) {
    const step = Number(m[1]);
    const v = parseNumber(m[3]!);
    if (v !== undefined) emit(m[2] === "Train" ? "loss" : "val_loss", step, m[3]!, v);
    const lr = m[4] !== undefined ? parseNumber(m[4]) : undefined;
    if (lr !== undefined) emit("lr", step, m[4]!, lr);
    return;
  }
  if (text.includes("train loss") && (m = NANOGPT_EVAL.exec(text))) {
    const step = Number(m[1]);
    const t = parseNumber(m[2]!);
    const v = parseNumber(m[3]!);
    if (t !== undefined) emit("eval_train_loss", step, m[2]!, t);
    if (v !== undefined) emit("val_loss", step, m[3]!, v);
    return;
  }
  if (text.includes("iteration") && (m = MEGATRON.exec(text))) {
    emitPairs(pairs(MEGATRON_PAIR, text, m.index + m[0].length - 1, []), Number(m[1]), emit);
    return;
  }
  if (text.includes("lm loss value") && (m = MEGATRON_VAL.exec(text))) {
    const v = parseNumber(m[2]!);
    if (v !== undefined) emit("val_loss", Number(m[1]), m[2]!, v);
    return;
  }
  if (text.includes("step=") && (m = DEEPSPEED.exec(text))) {
    const v = parseNumber(m[3]!);
    if (v !== undefined) emit("lr", Number(m[1]), m[3]!, v);
    return;
  }
  if ((m = KERAS_EPOCH.exec(text))) {
    state.kerasEpoch = Number(m[1]);
    return;
  }
  if ((m = KERAS_BAR.exec(text))) {
    const n = Number(m[1]);
    const total = Number(m[2]);
    const step = state.kerasEpoch !== undefined ? (state.kerasEpoch - 1) * total + n : n;
    emitPairs(pairs(KERAS_PAIR, text, m.index + m[0].length - 1, []), step, emit);
    return;
  }
  // Generic: key=value, key: value, "| key value |" (fairseq), "Loss 6.98e+00" (imagenet).
  if (text.includes("OVERFLOW!")) return; // DeepSpeed's "Attempted loss scale: 65536" is not a loss
  const list: [string, string][] = [];
  pairs(EQ_PAIR, text, 0, list);
  pairs(COLON_PAIR, text, 0, list);
  if (text.includes(" | ")) pairs(FAIRSEQ_PIPE_PAIR, text, 0, list);
  if (list.length === 0 || !list.some(([k]) => /loss/i.test(k))) pairs(SPACED_LOSS, text, 0, list);
  if (!list.some(([k]) => /loss/i.test(k))) pairs(NOSPACE_LOSS, text, 0, list);
  if (!list.some(([k]) => /loss/i.test(k)) && text.includes("] ")) {
    const bracketed = pairs(BRACKET_PAIR, text, 0, []);
    if (bracketed.some(([k]) => /loss/i.test(k))) list.push(...bracketed);
  }
  if (!list.some(([k]) => /loss/i.test(k))) bareLoss(text, list);
  if (list.length === 0) return;
  let step = stepFrom(list);
  if (step === undefined && (m = EPOCH_STEP.exec(text))) step = (Number(m[1]) - 1) * Number(m[3]) + Number(m[2]);
  if (step === undefined && (m = MM_STEP.exec(text))) step = (Number(m[1]) - 1) * Number(m[3]) + Number(m[2]);
  if (step === undefined && (m = BRACKET_STEP.exec(text))) step = Number(m[1]) * Number(m[3]) + Number(m[2]);
  if (step === undefined && (m = STEP_WORD.exec(text))) step = Number(m[1]);
  const seen = new Set<string>();
  emitPairs(
    list.filter(([k]) => {
      const n = metricName(k);
      if (seen.has(n)) return false; // "loss: 6.85 (6.94)": the first is the value, the second a running mean
      seen.add(n);
      return true;
    }),
    step,
    emit,
  );
}

/** BARE_LOSS pairs: `loss`, or `<word>_loss` for `Train loss` / `Val loss` (not for a step word: `step 3 loss`). */
function bareLoss(text: string, out: [string, string][]): void {
  BARE_LOSS.lastIndex = 0;
  for (let m = BARE_LOSS.exec(text); m; m = BARE_LOSS.exec(text)) {
    const word = m[1]?.toLowerCase();
    out.push([word && !NOT_METRICS.has(word) ? `${word}_loss` : "loss", m[3]!]);
  }
}
