import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseLogFile } from "../src/index.ts";

/**
 * The format gaps the public logs (scored, not committed: test/corpus/README.md) showed, each fixed generally: lines in
 * the shapes those logs print, not the corpus files themselves.
 */
const dir = mkdtempSync(join(tmpdir(), "lp-public-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const parse = (text: string) => {
  const p = join(dir, `log${n++}`);
  writeFileSync(p, text);
  return parseLogFile(p);
};

describe("formats seen in public logs", () => {
  it("mmcv / mmengine epochs count from 1: Epoch [e][i/n] and Epoch(train) [e][i/n] are step (e-1)*n+i", async () => {
    const r = await parse(
      [
        "2024/01/02 10:00:00 - mmengine - INFO - Epoch(train)  [1][ 100/400]  lr: 1.0000e-02  eta: 0:10:00  time: 0.5  data_time: 0.01  memory: 900  loss: 2.5",
        "2024/01/02 10:00:50 - mmengine - INFO - Epoch(train)  [2][ 50/400]  lr: 1.0000e-02  eta: 0:09:00  time: 0.5  data_time: 0.01  memory: 900  loss: nan",
        "2021-08-18 19:36:00,257 - mmdet - INFO - Epoch [3][10/400]\tlr: 1.000e-02, eta: 5:02:49, time: 0.784, loss_cls: 0.8, loss: 1.5",
      ].join("\n"),
    );
    expect(r.series?.loss?.map((p) => p.step)).toEqual([100, 450, 810]);
    expect(r.loss?.first_nonfinite?.step).toBe(450);
  });

  it("pytorch/examples' Epoch: [e][i/n] (with a colon) still counts epochs from 0", async () => {
    const r = await parse("Epoch: [1][10/100]\t Loss 0.5 (0.6)\n");
    expect(r.series?.loss?.[0]?.step).toBe(110);
  });

  it("a traceback whose header is missing (quote or log starts mid-stack) still gives its exception", async () => {
    const r = await parse(
      [
        "    return self._conv_forward(input, weight, bias)",
        '  File "/venv/lib/python3.11/site-packages/torch/nn/modules/conv.py", line 549, in _conv_forward',
        "    return F.conv2d(",
        "torch.OutOfMemoryError: HIP out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 16 GiB",
      ].join("\n"),
    );
    expect(r.failures?.[0]).toMatchObject({ class: "CUDA_OOM", exception: { type: "torch.OutOfMemoryError", frame: { function: "_conv_forward", line: 549 } } });
  });

  it("a headless traceback's OSError carries the disk-quota class", async () => {
    const r = await parse('  File "/x/cache.py", line 116, in put\n    with open(p) as f:\nOSError: [Errno 122] Disk quota exceeded\n');
    expect(r.failures?.[0]).toMatchObject({ class: "DISK_FULL", exception: { type: "OSError" } });
  });

  it("frame lines inside an open traceback do not restart it (the chain and header are kept)", async () => {
    const r = await parse('Traceback (most recent call last):\n  File "a.py", line 1, in <module>\n    f()\n  File "a.py", line 3, in f\n    raise ValueError("x")\nValueError: x\n');
    expect(r.failures?.[0]).toMatchObject({ class: "PYTHON_EXCEPTION", exception: { type: "ValueError", frame: { function: "f" } } });
  });

  it("NCCL watchdog: its ProcessGroupNCCL log line even when the message is cut, and its C++ frames", async () => {
    const cut = await parse("[rank3]:[E602 11:17:52.185053341 ProcessGroupNCCL.cpp:632] [Rank 3] Watchdog caught collective oper\n");
    expect(cut.failures?.[0]?.class).toBe("NCCL");
    const pg = await parse("[rank1]:[E1206 18:44:12.715588844 ProcessGroupNCCL.cpp:1664] [PG ID 0 PG GUID 0(default_pg) Rank 1] Watchdog stopped\n");
    expect(pg.failures?.[0]?.class).toBe("NCCL");
    const frames = await parse("frame #1: c10d::ProcessGroupNCCL::WorkNCCL::checkTimeout(std::optional<long>) + 0x1d2 (0x1 in libtorch_cuda.so)\n");
    expect(frames.failures?.[0]?.class).toBe("NCCL");
    const info = await parse("[I ProcessGroupNCCL.cpp:1014] [Rank 0] ProcessGroupNCCL initialization options: NCCL_ASYNC_ERROR_HANDLING: 1\n");
    expect(info.failures).toEqual([]);
  });

  it("no loss printed but grad norm went nan (Megatron): the first non-finite step is reported", async () => {
    const r = await parse(
      [
        " iteration       10/  1000 | learning rate: 1.0E-04 | loss scale: 1.0 | grad norm: 0.5 | number of skipped iterations:   0 |",
        " iteration       11/  1000 | learning rate: 1.0E-04 | loss scale: 1.0 | grad norm: nan | number of skipped iterations:   0 |",
      ].join("\n"),
    );
    expect(r.loss).toMatchObject({ first: null, trend: "NAN", first_nonfinite: { step: 11, metric: "grad_norm" } });
    expect(r.failures?.[0]?.class).toBe("NAN_LOSS");
  });

  it("a Lightning bar without its glyphs (`97% 1651/1702`) still gives the global step", async () => {
    const r = await parse("Epoch 1:  50% 5/10 [00:01<00:01,  2.11it/s, loss=0.5, v_num=0]\nEpoch 1:  60% 6/10 [00:01<00:01,  2.11it/s, loss=0.4, v_num=0]\n");
    expect(r.series?.loss?.map((p) => [p.step, p.value])).toEqual([
      [15, 0.5],
      [16, 0.4],
    ]);
  });

  it("loss:0.66 without a space after the colon is the loss; line:24 is not a metric", async () => {
    const r = await parse("step: 0/ 3305 loss:0.6661 imps:0.3 lr: 0.1000\n[engine.py line:78]:step: 100/ 3305 loss:0.1896 lr: 0.09\n");
    expect(r.series?.loss?.map((p) => [p.step, p.value])).toEqual([
      [0, 0.6661],
      [100, 0.1896],
    ]);
    expect(r.series?.line).toBeUndefined();
  });

  it("bracketed keys: [Loss] value ... [step] N, a NaN there is the NaN verdict at that step", async () => {
    const r = await parse("E5 iter[ 14/ 15] | [Loss] 5.5 | [exp] ./x | [step]    89 | [time] 0.4m\nE6 iter[ 14/ 15] | [Loss] nan | [exp] ./x | [step]   104 | [time] 0.4m\n");
    expect(r.loss).toMatchObject({ first: 5.5, trend: "NAN", first_nonfinite: { step: 104 } });
    const noLoss = await parse("[INFO] 12 | [step] 3 | loss unknown\n");
    expect(noLoss.series?.info).toBeUndefined();
  });
});
