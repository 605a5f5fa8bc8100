import type { LogReport } from "@slurmpipe/core";

/**
 * Worst-case lines for each pattern family of log-parse (issue #12): long digit runs after a key,
 * long runs of spaces, a literal repeated all over one line with the rest of its pattern missing,
 * many tracebacks open at once. `line(n)` is about n bytes; every file starts with FIRST_LINE, a
 * normal line whose values must still come out, and `values` lists metrics the adversarial line
 * itself carries before its adversarial part (they must not be lost either).
 */
export interface Family {
  name: string;
  line: (n: number) => string;
  /** Metric values the adversarial line still yields: [metric, value]. */
  values?: [string, number][];
  /** Further checks on the report of the smallest file. */
  check?: (report: LogReport) => void;
}

export const FIRST_LINE = "iter 0: loss 9.5, time 1.00ms";

const digits = (n: number) => "7".repeat(n);
const spaces = (n: number) => " ".repeat(n);
const repeat = (s: string, n: number) => s.repeat(Math.max(1, Math.floor(n / s.length)));

/** Families that backtracked super-linearly before the fix (each was seen to time out or scale ~16x per 4x). */
export const SUPERLINEAR: Family[] = [
  // The line: COLON_PAIR's number could split a digit run in O(n) ways per split point.
  { name: "key: digits (COLON_PAIR)", line: (n) => `lr: 0.5 loss: ${digits(n)}x`, values: [["lr", 0.5]] },
  { name: "key=digits (EQ_PAIR)", line: (n) => `step=3 acc=0.5 loss=${digits(n)}x`, values: [["acc", 0.5]] },
  { name: "HF dict digits (HF_PAIR)", line: (n) => `{'acc': 0.5, 'loss': ${digits(n)}x}`, values: [["acc", 0.5]] },
  { name: "nanoGPT time digits (NANOGPT_ITER)", line: (n) => `iter 5: loss 2.5, time ${digits(n)}x`, values: [["loss", 2.5]] },
  { name: "nanoGPT eval digits (NANOGPT_EVAL, SPACED_LOSS)", line: (n) => `step 5: train loss ${digits(n)}x` },
  { name: "Megatron spaces (MEGATRON_PAIR)", line: (n) => ` iteration 1/ 10 | lm loss: 1.250000E+00 | ${spaces(n)}x|`, values: [["lm_loss", 1.25]] },
  { name: "Megatron validation digits (MEGATRON_VAL)", line: (n) => `lm loss value | validation loss at iteration ${digits(n)}` },
  { name: "Megatron validation repeated (MEGATRON_VAL)", line: (n) => `${repeat("validation loss at iteration 1 ", n)}lm loss value` },
  { name: "Keras digits (KERAS_PAIR)", line: (n) => `1/10 [==============================] - loss: 0.5000 - acc: ${digits(n)}x`, values: [["loss", 0.5]] },
  { name: "fairseq digits (FAIRSEQ_PIPE_PAIR)", line: (n) => `epoch 001 | loss 2.5 | nll_loss ${digits(n)}x |`, values: [["loss", 2.5]] },
  { name: "spaced loss digits (SPACED_LOSS)", line: (n) => `Epoch: [1][ 5/10] Loss ${digits(n)}x` },
  { name: "torchtune step digits (COLON_NOSPACE_PAIR)", line: (n) => `Step 5 | loss:2.5 lr:${digits(n)}x`, values: [["loss", 2.5]] },
  {
    name: "traceback frame spaces (FRAME)",
    line: (n) => `Traceback (most recent call last):\n  File "data.py", line 3, in load${spaces(n)}x\n  File "train.py", line 7, in step\nValueError: boom`,
    check: (r) => {
      const f = r.failures?.[0] as { class?: string; exception?: { frame?: unknown } } | undefined;
      if (f?.class !== "PYTHON_EXCEPTION" || JSON.stringify(f.exception?.frame) !== JSON.stringify({ file: "train.py", line: 7, function: "step" }))
        throw new Error(`traceback not followed: ${JSON.stringify(f)}`);
    },
  },
  {
    name: "memory limit repeated (HOST_OOM anchor)",
    line: (n) => `slurmstepd: error: Job 5 exceeded memory limit (100 > 50), being killed\n${repeat("exceeded memory limit ", n)}`,
    check: (r) => {
      if (r.failures?.[0]?.class !== "HOST_OOM") throw new Error(`HOST_OOM not found: ${JSON.stringify(r.failures)}`);
    },
  },
  { name: "Xid repeated (ECC_XID anchor)", line: (n) => repeat("Xid ", n) },
  { name: "can't open file repeated (IMPORT_ERROR anchor)", line: (n) => repeat("python: can't open file ", n) },
  { name: "MIOpen repeated (BENIGN)", line: (n) => repeat("MIOpen ", n) },
];

/** Shapes that were already linear; kept so that they stay so. */
export const LINEAR_CONTROLS: Family[] = [
  { name: "unterminated CSI escape (ANSI)", line: (n) => `\x1b[${repeat("1;", n)}\x01 loss=2.5`, values: [["loss", 2.5]] },
  { name: "many escapes (ANSI)", line: (n) => `${repeat("\x1b[1;", n)}m loss=2.5`, values: [["loss", 2.5]] },
  { name: "long spaces after a key (COLON_PAIR)", line: (n) => `lr: 0.5 loss:${spaces(n)}x`, values: [["lr", 0.5]] },
  { name: "long spaces before a value (EQ_PAIR)", line: (n) => `acc=0.5 loss${spaces(n)}=1`, values: [["acc", 0.5]] },
  { name: "many \\r updates", line: (n) => `${repeat("loss=2.5\r", n)}`, values: [["loss", 2.5]] },
  { name: "many bare \\r", line: (n) => `${"\r".repeat(n)}loss=2.5`, values: [["loss", 2.5]] },
  { name: "a very long word (EQ_PAIR, COLON_PAIR keys)", line: (n) => `${"a".repeat(n)}=1 loss=2.5`, values: [["loss", 2.5]] },
  { name: "a very long word (torchtune keys)", line: (n) => `Step 5 | loss:2.5 ${"a".repeat(n)}`, values: [["loss", 2.5]] },
  { name: "a long exception name", line: (n) => `Traceback (most recent call last):\n${"E".repeat(n)}rror: x` },
  { name: "long rank prefix digits", line: (n) => `[rank${digits(n)}] loss=2.5`, values: [["loss", 2.5]] },
  { name: "Lightning bar without its second bar", line: (n) => `Epoch 1:  50%|${"█".repeat(n / 3)} 5/10 [00:01, loss=2.5]`, values: [["loss", 2.5]] },
  { name: "long bracket step (BRACKET_STEP)", line: (n) => `[1]${spaces(n)}loss: 2.5`, values: [["loss", 2.5]] },
  { name: "a long line without newline", line: (n) => `loss=2.5 ${"x".repeat(n)}`, values: [["loss", 2.5]] },
  { name: "shell job line spaces repeated (deathInLine)", line: (n) => repeat(`: line 1: ${spaces(64)}1 `, n) },
  { name: "srun task repeated (deathInLine)", line: (n) => repeat("srun: error: n1: task 0,1,2,3: ", n) },
  { name: "torchrun exitcode repeated (deathInLine)", line: (n) => repeat("failed (exitcode: x Signal 1 (SIG ", n) },
];
