import { appendFileSync, mkdtempSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LogParseArgs } from "../src/index.ts";
import { runLogParse } from "./run-lib.ts";
import { decodeStateFile, encodeStateFile } from "../src/state-file.ts";

/** log-parse in-process with a verbose logger: stderr carries the `state: read N bytes` line. */
async function run(cwd: string, args: LogParseArgs, input: string) {
  const r = await runLogParse(cwd, args, input, { verbose: true });
  const read = /state: read (\d+) bytes of (\d+) in (\d+) logs \((\d+) went on from their state, (\d+) from the start; (\d+) bytes hashed\)/.exec(r.stderr);
  return {
    ...r,
    records: r.records as { report: Record<string, unknown> }[],
    read: read ? { bytes: Number(read[1]), total: Number(read[2]), resumed: Number(read[4]), fromStart: Number(read[5]), hashed: Number(read[6]) } : undefined,
  };
}

const setup = () => {
  const dir = mkdtempSync(join(tmpdir(), "lp-incr-"));
  const out = join(dir, "run.out");
  const err = join(dir, "run.err");
  // A terminal state: the report cache (reports.json) would serve an unchanged record; the changes below always miss it.
  const record = { id: "r1", name: "r1", logs: { stdout: out, stderr: err }, state: { state: "RUNNING", category: "active", terminal: false } };
  return { dir, out, err, input: `${JSON.stringify(record)}\n`, state: join(dir, "state") };
};

/** The same logs parsed with --state (going on from the last run) and without (from the start). */
async function compare(dir: string, state: string, input: string) {
  const incremental = await run(dir, { state }, input);
  const full = await run(dir, {}, input);
  expect(incremental.code).toBe(full.code);
  expect(incremental.records[0]!.report).toEqual(full.records[0]!.report);
  return incremental;
}

const HF = (step: number, loss: number) => `{'loss': ${loss}, 'grad_norm': 1.5, 'learning_rate': 1e-05, 'epoch': ${step / 100}}\n`;
const bars = (epoch: number) => `${Array.from({ length: 5 }, (_, i) => `\rEpoch ${epoch}:  ${(i + 1) * 20}%|██| ${i + 1}/5 [00:01<00:00, 4.47it/s, v_num=1, train_loss=${(3 - epoch * 0.1 - i * 0.01).toFixed(3)}]`).join("")}\n`;

describe("log-parse --state: only the bytes appended since the last run are read", () => {
  it("gives the report of a full parse after every append: mid-line cuts, a traceback across appends, a truncation", async () => {
    const { dir, out, err, input, state } = setup();
    writeFileSync(out, "");
    writeFileSync(err, "");
    const steps: [string, string][] = [
      [`iter 1: loss 4.0000, time 100ms\niter 2: loss 3.9`, ""], // stdout ends mid-line
      [`000, time 101ms\niter 3: loss 3.8000, time 99ms\n`, bars(0).slice(0, 60)], // completed; a bar cut in the middle of an update
      [HF(4, 3.5) + HF(5, 3.4).slice(0, 20), bars(0).slice(60) + bars(1)],
      [`${HF(5, 3.4).slice(20)}iter 6: loss nan, time 100ms\n`, "/usr/lib/python3/torch/nn/modules/module.py:1: UserWarning: TypedStorage is deprecated\n"],
      ["", "Traceback (most recent call last):\n  File \"train.py\", line 88, in <module>\n    main()\n  File \"tra"], // a traceback cut mid-frame
      ["iter 7: loss 3.3000, time 100ms\n", 'in.py", line 40, in main\n    loss.backward()\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n'],
      ["iter 8: loss 3.2000\n", "srun: error: n1: task 0: Exited with exit code 1\n"],
    ];
    // Bytes after the last newline or \r: the unfinished line's current update, read again (completed) next time.
    const unfinished = (path: string) => {
      const b = readFileSync(path);
      return b.length - (Math.max(b.lastIndexOf(10), b.lastIndexOf(13)) + 1);
    };
    let total = 0;
    for (const [i, [o, e]] of steps.entries()) {
      const carried = [unfinished(out), unfinished(err)];
      appendFileSync(out, o);
      appendFileSync(err, e);
      const r = await compare(dir, state, input);
      const size = statSync(out).size + statSync(err).size;
      total += o.length + e.length;
      expect(r.read?.total).toBe(size);
      if (i === 0) continue;
      // The scans read what came after the last whole line of stdout, and all of stderr: a log
      // after the first under 64 KiB keeps no state (it is read whole; so is any log after one
      // that changed, its state was built on top of stdout's).
      const expected = carried[0]! + Buffer.byteLength(o) + statSync(err).size;
      expect(r.read!.bytes - r.read!.hashed).toBe(expected);
    }
    const last = await run(dir, { state }, input);
    const report = last.records[0]!.report as { failures: { class: string; exception?: { type: string } }[]; loss: { trend: string } };
    expect(report.failures.map((f) => f.class)).toContain("CUDA_OOM");
    expect(report.loss.trend).toBe("NAN");
    expect(total).toBeGreaterThan(0);

    // A requeue truncates the log and starts it again: read from the start, equal to a full parse.
    writeFileSync(out, "iter 1: loss 5.0000\niter 2: loss 4.0000\n");
    const truncated = await compare(dir, state, input);
    expect(truncated.read!.fromStart).toBe(2); // stdout changed, so stderr (after it in the chain) is read again too
    appendFileSync(out, "iter 3: loss 3.0000\n");
    const after = await compare(dir, state, input);
    expect(after.read!.resumed).toBe(1);
    expect(after.read!.bytes - after.read!.hashed).toBe("iter 3: loss 3.0000\n".length + statSync(err).size);
    // Only stderr grows: stdout goes on from its state (nothing new); stderr, small, is read whole.
    appendFileSync(err, "srun: error: n1: task 0: Killed\n");
    const errOnly = await compare(dir, state, input);
    expect(errOnly.read!.resumed).toBe(1);
    expect(errOnly.read!.bytes - errOnly.read!.hashed).toBe(statSync(err).size);
    // A stderr of 64 KiB or more (tqdm bars go there) keeps its own state: only its new bytes are read.
    appendFileSync(err, bars(2).repeat(400));
    expect(statSync(err).size).toBeGreaterThan(64 * 1024);
    await compare(dir, state, input);
    appendFileSync(err, "srun: error: n1: task 0: Killed\n");
    const bigErr = await compare(dir, state, input);
    expect(bigErr.read!.resumed).toBe(2);
    expect(bigErr.read!.bytes - bigErr.read!.hashed).toBe("srun: error: n1: task 0: Killed\n".length);
  });

  it("goes on from the last \\r of an unfinished progress bar, also once it is longer than --max-line-bytes", async () => {
    const { dir, out, err, input, state } = setup();
    writeFileSync(err, "");
    const args = { maxLineBytes: 1024 };
    const update = (n: number) => `\rEpoch 0:  ${n % 100}%|██| ${n}/900 [00:01<00:00, 4.47it/s, v_num=1, train_loss=${(3 - n * 0.001).toFixed(3)}]`;
    const updates = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => update(from + i)).join("");
    writeFileSync(out, "iter 1: loss 4.0000, time 100ms\n");
    let n = 1;
    const steps = [
      updates(n, (n = 8)), // a bar of ~600 bytes, shorter than the limit
      updates(n, (n = 20)), // now over 1,024 bytes from its start: cut into pieces (oversize_lines 1)
      updates(n, (n = 60)).slice(0, -30), // ends inside an update
      updates(n - 1, (n = 90)).slice(-2900), // that update completed, more
      `${updates(n, (n = 95))}\niter 2: loss 2.5000, time 100ms\n${update(1).repeat(3)}`, // the bar ends; a new one begins
    ];
    for (const [k, more] of steps.entries()) {
      const before = readFileSync(out);
      const resumeAt = k === 0 ? 0 : Math.max(before.lastIndexOf(10), before.lastIndexOf(13)) + 1;
      appendFileSync(out, more);
      const incremental = await run(dir, { state, ...args }, input);
      const full = await run(dir, args, input);
      expect(incremental.records[0]!.report, `step ${k}`).toEqual(full.records[0]!.report);
      if (k > 0) {
        expect(incremental.read!.resumed, `step ${k}`).toBe(1);
        // Only the update that was unfinished and what was appended: not the bar from its start.
        expect(incremental.read!.bytes - incremental.read!.hashed, `step ${k}`).toBe(statSync(out).size - resumeAt);
      }
    }
    const files = (await run(dir, args, input)).records[0]!.report.files as { oversize_lines?: number }[];
    expect(files[0]!.oversize_lines).toBe(1);
    void err;
  });

  it("reads a log again from the start when, gone on from inside a line, an over-long update would be cut where a full read may not", async () => {
    const { dir, out, err, input, state } = setup();
    writeFileSync(err, "");
    const args = { maxLineBytes: 1024 };
    writeFileSync(out, `iter 1: loss 4.0000, time 100ms\n\rEpoch 0:  1%|| 1/9 [00:01<00:00, v_num=1, train_loss=3.000]`);
    await run(dir, { state, ...args }, input);
    // An update of 3,000 bytes without a \r (a message glued onto the bar): its pieces end where the
    // line's pieces began, which the resumed scan cannot know.
    appendFileSync(out, `\rEpoch 0:  2%|| 2/9 [00:01<00:00, v_num=1, train_loss=2.900] ${"x".repeat(3000)}\niter 2: loss 3.0000, time 100ms\n`);
    const incremental = await run(dir, { state, ...args }, input);
    const full = await run(dir, args, input);
    expect(incremental.records[0]!.report).toEqual(full.records[0]!.report);
    expect(incremental.read!.fromStart).toBe(2);
    expect(incremental.read!.resumed).toBe(0);
    void err;
  });

  it("rewrites no state file when nothing was appended; a kept snapshot's arrays move into the next file intact", async () => {
    const { dir, out, err, input, state } = setup();
    // Losses that are not whole numbers and an uneven step: arrays kept as bytes in the binary part.
    writeFileSync(out, Array.from({ length: 300 }, (_, i) => `step ${i * 3 + (i % 2)} loss ${(4 - i / 170 + (i % 7) / 1000).toFixed(4)}\n`).join(""));
    writeFileSync(err, "");
    await compare(dir, state, input);
    const scans = join(state, "log-parse", "scans");
    const [file] = readdirSync(scans);
    const before = statSync(join(scans, file!));
    expect(decodeStateFile(readFileSync(join(scans, file!)))!.parts.length).toBeGreaterThan(0);
    // A tick with nothing new, and one where only the small stderr grew: the same file (inode, mtime).
    for (const grow of ["", "/opt/venv/lib/python3.11/site-packages/torch/cuda/__init__.py:1: UserWarning: no NCCL\n"]) {
      appendFileSync(err, grow);
      const r = await compare(dir, state, input);
      expect(r.read!.resumed).toBe(1);
      const now = statSync(join(scans, file!));
      expect([now.ino, now.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    }
    // stderr grows past 64 KiB: it gets a snapshot of its own, stdout's (unchanged) is carried over.
    appendFileSync(err, bars(3).repeat(400));
    await compare(dir, state, input);
    expect(statSync(join(scans, file!)).ino).not.toBe(before.ino);
    // Both go on from that file: stdout from the carried snapshot (compare: the report of a full parse).
    appendFileSync(err, bars(4));
    const both = await compare(dir, state, input);
    expect(both.read!.resumed).toBe(2);
    expect(both.read!.bytes - both.read!.hashed).toBe(Buffer.byteLength(bars(4)));
    appendFileSync(out, "step 900 loss 2.1234\n");
    expect((await compare(dir, state, input)).read!.resumed).toBe(1);
  });

  it("reads a log again from the start when it was replaced or its prefix changed, and equals a full parse", async () => {
    const { dir, out, input, state } = setup();
    const lines = Array.from({ length: 400 }, (_, i) => `iter ${i}: loss ${(4 - i / 200).toFixed(4)}, time 100ms\n`).join("");
    writeFileSync(out, lines);
    await compare(dir, state, input);
    // Same length and more, other bytes at the start (not a continuation): the head hash differs.
    writeFileSync(out, `ITER${lines.slice(4)}iter 400: loss 1.0000\n`);
    const rewritten = await compare(dir, state, input);
    expect(rewritten.read!.fromStart).toBe(1);
    // Replaced by another file (new inode) with the same content plus a line.
    writeFileSync(`${out}.new`, `${readFileSync(out, "utf8")}iter 401: loss 0.9000\n`);
    renameSync(`${out}.new`, out);
    const replaced = await compare(dir, state, input);
    expect(replaced.read!.fromStart).toBe(1);
    appendFileSync(out, "iter 402: loss 0.8000\n");
    expect((await compare(dir, state, input)).read!.resumed).toBe(1);
  });

  it("a corrupt state file is a warning and a full read, never an error", async () => {
    const { dir, out, input, state } = setup();
    // Losses that are not whole numbers: kept as bytes in the file's binary part.
    writeFileSync(out, "iter 1: loss 4.1234\niter 2: loss 3.4567\n");
    await compare(dir, state, input);
    const scans = join(state, "log-parse", "scans");
    const [file] = readdirSync(scans);
    expect(statSync(join(scans, file!)).mode & 0o777).toBe(0o600);
    expect(file).toMatch(/^[0-9a-f]{64}\.state$/);
    const good = readFileSync(join(scans, file!));
    // Cut inside its binary part (a disk that filled up while it was written, say).
    writeFileSync(join(scans, file!), good.subarray(0, good.length - 3));
    appendFileSync(out, "iter 3: loss 2.0000\n");
    const r = await compare(dir, state, input);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/scans\/[0-9a-f]{64}\.state: not readable \(truncated \(binary part\)\).*read from the start/);
    expect(r.read!.fromStart).toBe(1);
    // A state that parses but does not restore (a snapshot tampered with): also a full read.
    const decoded = decodeStateFile(readFileSync(join(scans, file!)))!;
    const data = decoded.header as { logs: { snap: unknown }[]; parts?: unknown };
    data.logs[0]!.snap = { $i: 0, $c: "NoSuchClass", o: {} };
    delete data.parts;
    writeFileSync(join(scans, file!), encodeStateFile(data, decoded.parts));
    appendFileSync(out, "iter 4: loss 1.0000\n");
    const t = await compare(dir, state, input);
    expect(t.stderr).toMatch(/cannot be restored .*unknown class NoSuchClass/);
    expect(t.read!.fromStart).toBe(1);
  });

  it("a state of version 3 (scans/*.json, base64 inside) is removed and the logs read again, without a warning", async () => {
    const { dir, out, input, state } = setup();
    writeFileSync(out, "iter 1: loss 4.0000\niter 2: loss 3.0000\n");
    await compare(dir, state, input);
    const scans = join(state, "log-parse", "scans");
    const [file] = readdirSync(scans);
    const old = join(scans, file!.replace(/\.state$/, ".json"));
    renameSync(join(scans, file!), old);
    writeFileSync(old, '{"v":3,"fp":"0123456789abcdef","logs":[]}');
    appendFileSync(out, "iter 3: loss 2.0000\n");
    const r = await compare(dir, state, input);
    expect(r.stderr).not.toMatch(/not readable|cannot be restored/);
    expect(r.read!.fromStart).toBe(1);
    expect(readdirSync(scans)).toEqual([file]);
    appendFileSync(out, "iter 4: loss 1.0000\n");
    expect((await compare(dir, state, input)).read!.resumed).toBe(1);
  });

  it("LOG_FILE arguments go on from their state too", async () => {
    const { dir, out, state } = setup();
    writeFileSync(out, "step 0 loss 4.0\nstep 10 loss 3.5\n");
    await run(dir, { state, files: [out] }, "");
    appendFileSync(out, "step 20 loss 3.0\n");
    const a = await run(dir, { state, files: [out] }, "");
    const b = await run(dir, { files: [out] }, "");
    expect(a.records).toEqual(b.records);
    expect(a.read!.resumed).toBe(1);
    expect(a.read!.bytes - a.read!.hashed).toBe("step 20 loss 3.0\n".length);
  });
});

/** Every log of the corpus and of the format fixtures, appended in pieces cut at arbitrary bytes. */
describe("log-parse --state on real logs appended in pieces: always the report of a full parse", () => {
  const here = join(import.meta.dirname, "corpus");
  const fixtures = join(import.meta.dirname, "fixtures");
  const cases: { name: string; out?: Buffer; err?: Buffer; state?: unknown }[] = [];
  for (const name of readdirSync(here).filter((n) => !n.startsWith("_") && statSync(join(here, n)).isDirectory())) {
    const d = join(here, name);
    const read = (f: string) => (readdirSync(d).includes(f) ? readFileSync(join(d, f)) : undefined);
    const c = JSON.parse(readFileSync(join(d, "case.json"), "utf8")) as { state?: unknown };
    cases.push({ name, out: read("out"), err: read("err"), state: c.state });
  }
  for (const f of readdirSync(fixtures).filter((n) => n.endsWith(".log"))) cases.push({ name: f, out: readFileSync(join(fixtures, f)) });

  it(`${cases.length} logs, 4 appends each`, async () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    for (const c of cases) {
      const dir = mkdtempSync(join(tmpdir(), "lp-incr-corpus-"));
      const out = join(dir, "job.out");
      const err = join(dir, "job.err");
      const record = { id: c.name, name: c.name, logs: { stdout: out, stderr: err }, ...(c.state ? { state: { category: "failure", terminal: true, ...(c.state as object) } } : {}) };
      const input = `${JSON.stringify(record)}\n`;
      const cuts = (b: Buffer | undefined) => (b ? [0, ...[rand(), rand(), rand()].map((x) => Math.floor(x * b.length)).sort((x, y) => x - y), b.length] : [0, 0, 0, 0, 0]);
      const co = cuts(c.out);
      const ce = cuts(c.err);
      writeFileSync(out, "");
      writeFileSync(err, "");
      for (let k = 1; k < 5; k++) {
        if (c.out) appendFileSync(out, c.out.subarray(co[k - 1], co[k]));
        // stderr grows in the odd steps only, so stdout alone changes in some and stderr alone in others.
        if (c.err && k % 2 === 1) appendFileSync(err, c.err.subarray(ce[k - 1], ce[k + 1]));
        const incremental = await run(dir, { state: join(dir, "state") }, input);
        const full = await run(dir, {}, input);
        expect(incremental.records[0]!.report, `${c.name}, step ${k}`).toEqual(full.records[0]!.report);
      }
    }
  }, 180_000);
});
