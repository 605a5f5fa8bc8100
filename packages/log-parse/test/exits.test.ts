import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunRecord } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { deathFromExit, deathInLine } from "../src/exits.ts";
import { parseLogFile, reportForRecord } from "../src/index.ts";

/**
 * The fixtures under fixtures/exits/ are the stderr files of real jobs on the local Slurm 22.05
 * (scripts/slurm-dev), and each state below is what sacct printed for that job:
 *
 *   JobID|JobName|State|ExitCode            script
 *   203|lp-cnf|FAILED|127:0                 nonexistent_command_xyz --flag
 *   204|lp-noexec|FAILED|126:0              ./notexec.bin (chmod -x)
 *   205|lp-child9|FAILED|9:0                bash -c 'kill -9 $$'; exit $?      (scontrol: ExitCode=137:0)
 *   207|lp-segv|FAILED|11:0                 python3 -c 'import ctypes; ctypes.string_at(0)'
 *   208|lp-selfsegv|FAILED|0:11             kill -SEGV $$                        (.batch CANCELLED 0:11)
 *   209|lp-abrt|FAILED|6:0                  python3 -c 'import os; os.abort()'
 *   210|lp-pyfg|FAILED|1:0                  python3 (SIGKILLs itself); echo after; exit 1
 *
 * sacct prints a batch script's exit status above 128 as status - 128 (137 -> `9:0`), scontrol
 * prints it as is (`137:0`). `kill -9 $$` gives FAILED `0:9` (shared/reference/slurm-facts.md §4.2).
 */
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/exits/${name}`, import.meta.url));
const GIB = 1024 ** 3;

const failed = (exit_code: string, over: Partial<RunRecord["state"]> = {}, logs?: RunRecord["logs"]): Partial<RunRecord> => ({
  id: "r1",
  name: "r1",
  ...(logs ? { logs } : {}),
  state: { state: "FAILED", category: "failure", terminal: true, exit_code, ...over },
});

describe("exit codes and signals explained (issue #14 item 6)", () => {
  it("FAILED 0:9 without other evidence: SIGKILL, with its likely senders, not 'no known failure signature'", async () => {
    const r = await reportForRecord(failed("0:9", { max_rss_bytes: 1 * GIB, req_mem_bytes: 8 * GIB }));
    const f = r.failures![0]!;
    expect(r.failures).toHaveLength(1);
    expect(f.class).toBe("UNKNOWN");
    expect(f.message).toMatch(/^killed by SIGKILL \(signal 9\)/);
    expect(f.message).toMatch(/OOM killer/);
    expect(f.message).toMatch(/KillWait/);
    expect(f.message).not.toMatch(/no known failure signature/);
    expect(f.suggested).toMatchObject({ action: "investigate", retry: false, note: expect.stringContaining("MaxRSS") });
    expect(f.suggested?.note).toContain("1G of 8G");
  });

  it("SIGKILL with MaxRSS near the request is the OOM killer: HOST_OOM with more memory", async () => {
    const r = await reportForRecord(failed("0:9", { max_rss_bytes: 7.8 * GIB, req_mem_bytes: 8 * GIB }));
    expect(r.failures?.map((f) => f.class)).toEqual(["HOST_OOM"]);
    expect(r.failures![0]!.message).toMatch(/^host memory exhausted: killed by SIGKILL \(signal 9\) with MaxRSS 7988M at 98% of the 8G requested, the mark of the OOM killer$/);
    expect(r.failures![0]!.suggested).toMatchObject({ action: "increase_mem", changes: { resources: { mem: "12G" } } });
  });

  it("SIGKILL or SIGTERM at the time limit is TIME_LIMIT", async () => {
    for (const exit of ["0:9", "0:15"]) {
      const r = await reportForRecord(failed(exit, { elapsed_s: 3630, time_limit_s: 3600 }));
      expect(r.failures?.map((f) => f.class)).toEqual(["TIME_LIMIT"]);
      expect(r.failures![0]!.message).toMatch(/time limit reached: the job ran 01:00:30 of its 01:00:00 limit/);
      expect(r.failures![0]!.suggested).toMatchObject({ action: "increase_time", changes: { resources: { time: "01:30:00" } } });
    }
  });

  it("a cancelled job's SIGTERM is told in the CANCELLED message", async () => {
    const r = await reportForRecord({ id: "r1", name: "r1", state: { state: "CANCELLED by 0", category: "failure", terminal: true, exit_code: "0:15" } });
    expect(r.failures?.map((f) => f.class)).toEqual(["CANCELLED"]);
    expect(r.failures![0]!.message).toBe("cancelled by uid 0; its processes were terminated (SIGTERM)");
  });

  it("SIGTERM without a time limit or cancel names who sends it", async () => {
    const r = await reportForRecord(failed("0:15"));
    expect(r.failures![0]).toMatchObject({ class: "UNKNOWN", message: expect.stringMatching(/^killed by SIGTERM \(signal 15\): terminated: Slurm sends SIGTERM at the time limit, on scancel, on preemption/) });
  });

  it("sacct 9:0 and scontrol 137:0 (bash: its child was SIGKILLed) with the shell's Killed line", async () => {
    for (const exit of ["9:0", "137:0"]) {
      const r = await reportForRecord(failed(exit, {}, { stderr: fixture("child9.err") }));
      const f = r.failures![0]!;
      expect(r.failures).toHaveLength(1);
      expect(f.class).toBe("UNKNOWN");
      // The log says it outright, so this is no longer a reading of the exit code.
      expect(f.message).toMatch(/^killed by SIGKILL \(signal 9\)/);
      expect(f.evidence?.map((e) => e.line)).toEqual([1]);
      expect(f.evidence?.[0]?.text).toMatch(/7997 Killed/);
      expect(f.slurm).toBe(`Slurm: FAILED (exit ${exit})`);
    }
    const bare = await reportForRecord(failed("9:0"));
    expect(bare.failures![0]!.message).toMatch(/^exit code 9, which sacct prints for a shell's 128\+9: a command was most likely killed by SIGKILL/);
  });

  it("exit 1:0 with stderr 'Killed' (the script went on and exited 1): SIGKILL, HOST_OOM when MaxRSS says so", async () => {
    const logs = { stdout: fixture("pyfg.out"), stderr: fixture("pyfg.err") };
    const plain = await reportForRecord(failed("1:0", {}, logs));
    expect(plain.failures![0]).toMatchObject({ class: "UNKNOWN", message: expect.stringMatching(/^killed by SIGKILL/) });
    const oom = await reportForRecord(failed("1:0", { max_rss_bytes: 3.9 * GIB, req_mem_bytes: 4 * GIB }, logs));
    expect(oom.failures![0]).toMatchObject({ class: "HOST_OOM", suggested: { action: "increase_mem" } });
    expect(oom.failures![0]!.evidence?.[0]?.text).toMatch(/8014 Killed/);
  });

  it("exit 127: command not found is an environment error, not to be retried as is", async () => {
    const r = await reportForRecord(failed("127:0", {}, { stderr: fixture("cnf.err") }));
    expect(r.failures?.map((f) => f.class)).toEqual(["IMPORT_ERROR"]);
    const f = r.failures![0]!;
    expect(f.message).toMatch(/^exit code 127: a command was not found .*; an environment error$/);
    expect(f.evidence?.[0]?.text).toMatch(/nonexistent_command_xyz: command not found/);
    expect(f.suggested).toMatchObject({ action: "fix_environment", retry: false, note: expect.stringContaining("resubmitting as is fails the same way") });
    const noLog = await reportForRecord(failed("127:0"));
    expect(noLog.failures![0]).toMatchObject({ class: "IMPORT_ERROR", suggested: { action: "fix_environment", retry: false } });
  });

  it("exit 126: found but not executable", async () => {
    const r = await reportForRecord(failed("126:0", {}, { stderr: fixture("noexec.err") }));
    expect(r.failures![0]).toMatchObject({ class: "IMPORT_ERROR", message: expect.stringMatching(/^exit code 126: a command was found but could not be run/), suggested: { action: "fix_environment", retry: false } });
  });

  it("SIGSEGV (11:0 from the shell, 0:11 from Slurm), SIGABRT and SIGBUS are native crashes (SEGFAULT) with their meaning", async () => {
    const segv = await reportForRecord(failed("11:0", {}, { stderr: fixture("segv.err") }));
    expect(segv.failures?.map((f) => f.class)).toEqual(["SEGFAULT"]);
    expect(segv.failures![0]!.message).toMatch(/^killed by SIGSEGV \(signal 11\): segmentation fault: native code/);
    expect(segv.failures![0]!.evidence?.map((e) => e.line)).toEqual([1]);
    const self = await reportForRecord(failed("0:11"));
    expect(self.failures![0]).toMatchObject({ class: "SEGFAULT", message: expect.stringMatching(/^killed by SIGSEGV/), slurm: "Slurm: FAILED (exit 0:11)" });
    const abrt = await reportForRecord(failed("6:0", {}, { stderr: fixture("abrt.err") }));
    expect(abrt.failures![0]).toMatchObject({ class: "SEGFAULT", message: expect.stringMatching(/^killed by SIGABRT \(signal 6\): aborted: native code called abort\(\)/) });
    expect(abrt.failures![0]!.evidence?.[0]?.text).toMatch(/8013 Aborted/);
    const bus = await reportForRecord(failed("0:7"));
    expect(bus.failures![0]).toMatchObject({ class: "SEGFAULT", message: expect.stringMatching(/SIGBUS.*\/dev\/shm/), suggested: { note: expect.stringContaining("num_workers") } });
  });

  it("a real cause in the logs is not replaced by the signal that followed it", async () => {
    const oom = fileURLToPath(new URL("./fixtures/failures/cuda_oom.err", import.meta.url));
    const r = await reportForRecord(failed("0:9", {}, { stderr: oom }));
    expect(r.failures?.map((f) => f.class)).toEqual(["CUDA_OOM"]);
    // The shell's Killed line after an oom-kill event joins the HOST_OOM evidence.
    const host = await parseLogFile(fileURLToPath(new URL("./fixtures/failures/host_oom.err", import.meta.url)));
    expect(host.failures?.map((f) => f.class)).toEqual(["HOST_OOM"]);
    expect(host.failures![0]!.evidence?.map((e) => e.line)).toEqual([2, 3]);
  });

  it("a torchrun worker dead of SIGSEGV with only the launcher's ChildFailedError is a SEGFAULT, not OK (issue #15)", async () => {
    // The launcher's lines as torch.distributed.elastic prints them (shared/reference/log-formats.md
    // §2.9 quotes the -9 form); no traceback of the worker itself.
    const dir = mkdtempSync(join(tmpdir(), "lp-elastic-"));
    const log = join(dir, "err");
    writeFileSync(
      log,
      [
        "E1119 08:26:02.715000 28705 site-packages/torch/distributed/elastic/multiprocessing/api.py:882] failed (exitcode: -11) local_rank: 0 (pid: 28773) of binary: /opt/venv/bin/python3.12",
        "Traceback (most recent call last):",
        '  File "/opt/venv/bin/torchrun", line 7, in <module>',
        "    sys.exit(main())",
        '  File "/opt/venv/lib/python3.12/site-packages/torch/distributed/launcher/api.py", line 293, in launch_agent',
        "    raise ChildFailedError(",
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
        "============================================================",
        "train.py FAILED",
        "------------------------------------------------------------",
        "Root Cause (first observed failure):",
        "[0]:",
        "  rank      : 0 (local_rank: 0)",
        "  exitcode  : -11 (pid: 28773)",
        "  error_file: <N/A>",
        "  traceback : Signal 11 (SIGSEGV) received by PID 28773",
        "============================================================",
        "",
      ].join("\n"),
    );
    const r = await parseLogFile(log);
    expect(r.ok).toBe(false);
    expect(r.failures?.map((f) => f.class)).toEqual(["SEGFAULT"]);
    expect(r.failures![0]!.message).toMatch(/^killed by SIGSEGV \(signal 11\)/);
    expect(r.failures![0]!.evidence?.map((e) => e.line)).toEqual([1, 14, 16]);
    // Slurm saw torchrun exit 1: the worker's signal is the one explained.
    const rec = await reportForRecord(failed("1:0", {}, { stderr: log }));
    expect(rec.failures?.map((f) => f.class)).toEqual(["SEGFAULT"]);
  });

  it("reads the signal or exit code from shell, srun, DataLoader, torchrun and DeepSpeed lines", () => {
    expect(deathInLine("/var/spool/slurmd/job00191/slurm_script: line 28:  8156 Killed                  python3 main.py")).toEqual({ signal: 9 });
    expect(deathInLine("Segmentation fault (core dumped)")).toEqual({ signal: 11 });
    expect(deathInLine("srun: error: nid005012: task 3: Bus error")).toEqual({ signal: 7 });
    expect(deathInLine("srun: error: gpu-01: task 0: Exited with exit code 127")).toEqual({ code: 127 });
    expect(deathInLine("srun: error: gpu-01: tasks 0-3: Exited with exit code 137")).toEqual({ signal: 9 });
    expect(deathInLine("RuntimeError: DataLoader worker (pid 7579) is killed by signal: Killed. ")).toEqual({ signal: 9 });
    expect(deathInLine("ERROR:torch.distributed.elastic.multiprocessing.api:failed (exitcode: -11) local_rank: 0 (pid: 2937) of binary: /usr/bin/python3")).toEqual({ signal: 11 });
    expect(deathInLine("  exitcode  : 1 (pid: 4242)")).toEqual({ code: 1 });
    expect(deathInLine("  traceback : Signal 6 (SIGABRT) received by PID 4242")).toEqual({ signal: 6 });
    expect(deathInLine("torch.multiprocessing.spawn.ProcessExitedException: process 0 terminated with signal SIGKILL")).toEqual({ signal: 9 });
    expect(deathInLine("[launch.py:315:sigkill_handler] ['/usr/bin/python', '-u', 'train.py'] exits with return code = -9")).toEqual({ signal: 9 });
    expect(deathInLine("the sum of the exit codes is 0")).toBeUndefined();
    expect(deathFromExit("0:0")).toBeUndefined();
    expect(deathFromExit("1:0")).toBeUndefined();
    expect(deathFromExit("0:125")).toBeUndefined(); // SIG_OOM: OUT_OF_MEMORY, handled with the state
    expect(deathFromExit("143:0")).toEqual({ signal: 15, from: "slurm" });
  });
});
