#!/usr/bin/env node
// Writes a synthetic training log of about MB megabytes (deterministic) mixing the formats
// log-parse reads (shared/reference/log-formats.md): nanoGPT iter/eval lines, HF Trainer dicts
// (4.x floats and 5.x strings), Lightning tqdm bars updated with `\r` (one physical line per
// epoch), Megatron iteration lines, DeepSpeed INFO lines, Python warnings and rank prefixes
// (`[rank0]: `, srun --label `0: `).
// A `mix` other than "mixed" writes one format only: "hf" (HF Trainer dicts), "nanogpt" (iter and
// eval lines), "lightning" (tqdm bars), "megatron" (iteration lines).
//   node bench/gen-log.mjs OUT_FILE [MB] [MIX]
import { closeSync, openSync, writeSync } from "node:fs";

/** The `kind` draw range of each single-format mix (see the branches below). */
export const MIXES = { mixed: [0, 1], hf: [0.35, 0.55], nanogpt: [0, 0.35], lightning: [0.55, 0.7], megatron: [0.7, 0.85] };

export function generateLog(path, mb, mix = "mixed") {
  const [lo, hi] = MIXES[mix] ?? MIXES.mixed;
  const target = mb * 1024 * 1024;
  const fd = openSync(path, "w");
  let seed = 42;
  const rand = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  let step = 0;
  let written = 0;
  let chunk = [];
  let chunkLen = 0;
  const push = (s) => {
    chunk.push(s);
    chunkLen += s.length;
    if (chunkLen > 4 << 20) flush();
  };
  const flush = () => {
    const buf = Buffer.from(chunk.join(""), "utf8");
    writeSync(fd, buf);
    written += buf.length;
    chunk = [];
    chunkLen = 0;
  };
  const loss = () => (0.3 + 2 * Math.exp(-step / 200000) + rand() * 0.05).toFixed(4);
  const bar = (pct) => {
    const full = Math.floor(pct / 10);
    return "█".repeat(full) + (full < 10 ? "▏" : "") + " ".repeat(Math.max(0, 9 - full));
  };
  while (written + chunkLen < target) {
    const kind = lo + rand() * (hi - lo);
    const rank = rand() < 0.2 ? "[rank0]: " : rand() < 0.1 ? "0: " : "";
    step++;
    if (kind < 0.35) {
      push(`${rank}iter ${step}: loss ${loss()}, time ${(100 + rand() * 50).toFixed(2)}ms, mfu ${(10 + rand() * 5).toFixed(2)}%\n`);
      if (step % 100 === 0) push(`${rank}step ${step}: train loss ${loss()}, val loss ${loss()}\n`);
    } else if (kind < 0.5) {
      push(`{'loss': ${loss()}, 'grad_norm': ${(rand() * 90).toFixed(14)}, 'learning_rate': ${(rand() * 1e-4).toExponential(16)}, 'epoch': ${(step / 1e4).toFixed(2)}}\n`);
    } else if (kind < 0.55) {
      push(`{'loss': '${loss().slice(0, 5)}', 'grad_norm': '${(rand() * 3).toFixed(3)}', 'learning_rate': '${(rand() * 1e-3).toPrecision(4)}', 'epoch': '${(step / 1e4).toFixed(4)}'}\n`);
    } else if (kind < 0.7) {
      // a Lightning epoch: 50 bar updates on one physical line, `\r` before each
      const epoch = step % 1000;
      const parts = [];
      for (let i = 1; i <= 50; i++) {
        const pct = i * 2;
        parts.push(`\rEpoch ${epoch}: ${String(pct).padStart(3)}%|${bar(pct)}| ${i * 20}/1000 [00:${String(i % 60).padStart(2, "0")}<01:02,  4.47it/s, v_num=24, train_loss_step=${loss().slice(0, 5)}]`);
      }
      push(`${parts.join("")}, train_loss_epoch=${loss().slice(0, 5)}]\n`);
    } else if (kind < 0.85) {
      push(
        ` [2024-04-06 03:02:12] iteration ${String(step).padStart(8)}/  250000 | consumed samples: ${String(step * 128).padStart(12)} | elapsed time per iteration (ms): 5361.6 | learning rate: 1.420000E-05 | global batch size:   128 | lm loss: ${Number(loss()).toExponential(6).toUpperCase().replace(/E([+-])(\d)$/, "E$10$2")} | loss scale: 1.0 | grad norm: ${(rand() * 2).toFixed(3)} | number of skipped iterations:   0 | number of nan iterations:   0 |\n`,
      );
    } else if (kind < 0.92) {
      push(`${rank}[2022-03-11 02:06:58,985] [INFO] [logging.py:69:log_dist] [Rank 0] step=${step}, skipped=0, lr=[5e-05], mom=[[0.9, 0.999]]\n`);
    } else {
      push(`${rank}/usr/lib/python3/dist-packages/torch/nn/modules/module.py:1: UserWarning: TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only storage class.\n`);
    }
  }
  flush();
  closeSync(fd);
  return written;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [out, mb = "1024", mix = "mixed"] = process.argv.slice(2);
  if (!out) {
    process.stderr.write("usage: node bench/gen-log.mjs OUT_FILE [MB]\n");
    process.exit(2);
  }
  const bytes = generateLog(out, Number(mb), mix);
  process.stderr.write(`wrote ${out}: ${bytes} bytes\n`);
}
