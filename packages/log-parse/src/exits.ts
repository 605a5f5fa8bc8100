import type { Evidence } from "@slurmpipe/core";

/**
 * How a process ended, in words: the signal that killed it, or an exit code with a fixed meaning
 * (127, 126). Read from Slurm's ExitCode and from the lines shells, srun and launchers print when a
 * child dies (`line 28:  8156 Killed  python3 ...`, `srun: error: n1: task 0: Segmentation fault`,
 * torchrun's `failed (exitcode: -11)`).
 */
export interface Death {
  /** The signal that killed the process. */
  signal?: number;
  /** An exit code (when no signal is known). */
  code?: number;
  evidence?: Evidence;
  /** Where it was read: Slurm's ExitCode or a log line. */
  from: "slurm" | "log";
  /** Slurm printed N:0 for a shell's 128+N, so the signal is a reading of an exit code. */
  inferred?: boolean;
}

interface SignalInfo {
  name: string;
  /** What it means and who sends it, for the failure message. */
  meaning: string;
}

/** The signals a training job dies of, with the likely senders (signal(7), slurm.conf KillWait). */
export const SIGNALS: Readonly<Record<number, SignalInfo>> = {
  1: { name: "SIGHUP", meaning: "hangup: the terminal or session that started it went away (a run started over ssh without nohup/tmux)" },
  2: { name: "SIGINT", meaning: "interrupted: Ctrl-C, or scancel --signal=INT" },
  4: { name: "SIGILL", meaning: "illegal instruction: a binary or wheel built for a newer CPU than this node's (e.g. AVX-512), or corrupted code" },
  6: {
    name: "SIGABRT",
    meaning:
      "aborted: native code called abort(): an uncaught C++ exception (`terminate called after throwing ...`), a failed assertion, heap corruption found by glibc (`double free`), or PyTorch's NCCL watchdog ending the process after a collective timed out",
  },
  7: { name: "SIGBUS", meaning: "bus error: memory-mapped or shared memory could not be backed: /dev/shm too small for DataLoader workers, a file truncated while memory-mapped, or a full tmpfs" },
  8: { name: "SIGFPE", meaning: "arithmetic error in native code (an integer division by zero)" },
  9: {
    name: "SIGKILL",
    meaning:
      "killed (it cannot be caught): by the kernel's OOM killer when host memory ran out, by Slurm after KillWait once the SIGTERM of a time limit, scancel or preemption was not obeyed, or by a person (kill -9)",
  },
  10: { name: "SIGUSR1", meaning: "user signal 1, not handled: often sbatch --signal=USR1@T, sent before the time limit so the job can checkpoint" },
  11: {
    name: "SIGSEGV",
    meaning:
      "segmentation fault: native code touched memory it does not own: a bug or a version mismatch in a compiled extension (a wheel built for another torch/CUDA/Python), a crashed DataLoader worker, or a stack overflow",
  },
  12: { name: "SIGUSR2", meaning: "user signal 2, not handled: often sbatch --signal=USR2@T (submitit's default), sent before the time limit so the job can checkpoint" },
  13: { name: "SIGPIPE", meaning: "wrote to a pipe whose reader had exited (`| head`, a dead logger process)" },
  15: {
    name: "SIGTERM",
    meaning:
      "terminated: Slurm sends SIGTERM at the time limit, on scancel, on preemption and when a node goes down; torchrun and the DeepSpeed launcher send it to the other workers after one of them failed",
  },
};

export function signalName(n: number): string {
  return SIGNALS[n]?.name ?? `signal ${n}`;
}

/** Native crashes: reported as SEGFAULT (a crash in compiled code, whatever the exact signal). */
export const CRASH_SIGNALS: ReadonlySet<number> = new Set([4, 6, 7, 8, 11]);
/** What `N:0` most likely means when N is one of these: Slurm's sacct prints a shell's 128+N exit as N. */
const SIGNAL_LIKE_CODES: ReadonlySet<number> = new Set([6, 7, 9, 11, 15]);

export function parseExit(text: string | undefined): { code: number; signal: number } | undefined {
  const m = /^(\d{1,3}):(\d{1,3})$/.exec(text?.trim() ?? "");
  return m ? { code: Number(m[1]), signal: Number(m[2]) } : undefined;
}

/**
 * What Slurm's ExitCode says about the end. `0:N`: killed by signal N. `128+N:0` (scontrol, the
 * local backend): a shell reporting its child killed by N. `N:0` for N in 6, 7, 9, 11, 15: sacct
 * subtracts 128 from an exit code above 128, so a script whose python was SIGKILLed (bash exit 137)
 * shows `9:0` in sacct and `137:0` in scontrol (seen on Slurm 22.05). 127 and 126: the shell's
 * "command not found" and "not executable". Anything else: no death worth explaining.
 */
export function deathFromExit(exitCode: string | undefined): Death | undefined {
  const exit = parseExit(exitCode);
  if (!exit) return undefined;
  // 125 is slurmstepd's SIG_OOM (253 & 0x7f): handled as OUT_OF_MEMORY by the caller.
  if (exit.signal > 0 && exit.signal !== 125) return { signal: exit.signal, from: "slurm" };
  if (exit.signal !== 0) return undefined;
  if (exit.code === 126 || exit.code === 127) return { code: exit.code, from: "slurm" };
  if (exit.code > 128 && exit.code < 160) return { signal: exit.code - 128, from: "slurm" };
  if (SIGNAL_LIKE_CODES.has(exit.code)) return { signal: exit.code, from: "slurm", inferred: true };
  return undefined;
}

/** strsignal(3) texts, as bash's job control, srun and PyTorch's DataLoader print them. */
const STRSIGNAL: Readonly<Record<string, number>> = {
  Hangup: 1,
  Interrupt: 2,
  "Illegal instruction": 4,
  Aborted: 6,
  "Bus error": 7,
  "Floating point exception": 8,
  Killed: 9,
  "User defined signal 1": 10,
  "Segmentation fault": 11,
  "User defined signal 2": 12,
  Terminated: 15,
};
const STR = Object.keys(STRSIGNAL).join("|");
/** bash: `.../slurm_script: line 28:  8156 Killed                  python3 main.py` (and the bare form). */
const SHELL_JOB = new RegExp(String.raw`: line \d{1,9}: +\d{1,10} (${STR})(?= |$)|^(${STR})(?: \(core dumped\))?$`);
/** srun: `srun: error: node1: task 0: Killed`, `... task 0: Exited with exit code 127`. */
const SRUN_TASK = new RegExp(String.raw`srun: error: [^\s:]{1,256}: tasks? [\d,-]{1,256}: (?:(${STR})|Exited with exit code (\d{1,3}))`);
/** PyTorch DataLoader: `DataLoader worker (pid 7579) is killed by signal: Bus error.` */
const WORKER_SIGNAL = new RegExp(`is killed by signal: (${STR})`);
/**
 * torchrun (elastic): `failed (exitcode: -11) local_rank: 0 ...`, the ChildFailedError summary's
 * `exitcode  : -9 (pid: 123)` and `traceback : Signal 11 (SIGSEGV) received by PID 123`;
 * torch.multiprocessing: `process 0 terminated with signal SIGKILL`; DeepSpeed's launcher:
 * `exits with return code = -11`.
 */
const ELASTIC_EXIT = /failed \(exitcode: (-?\d{1,3})\)|^\s*exitcode\s*: (-?\d{1,3})\b|exits with return code = (-?\d{1,3})\b/;
const ELASTIC_SIGNAL = /Signal (\d{1,2}) \(SIG[A-Z0-9]{1,8}\) received by PID|terminated with signal (SIG[A-Z0-9]{1,8})\b/;
const BY_NAME = new Map(Object.entries(SIGNALS).map(([n, s]) => [s.name, Number(n)]));

/** Literals of the lines deathInLine reads (a cheap test before its regexes). */
export const DEATH_HINT = /Killed|Terminated|Aborted|Segmentation fault|Bus error|Illegal instruction|Floating point|Hangup|Interrupt|User defined signal|exitcode|exit code|return code|received by PID|terminated with signal/;

/** A line that says a process died (of a signal, or with an exit code), or undefined. */
export function deathInLine(text: string): { signal?: number; code?: number } | undefined {
  let m = SHELL_JOB.exec(text) ?? WORKER_SIGNAL.exec(text);
  if (m) return { signal: STRSIGNAL[m[1] ?? m[2]!]! };
  if (text.includes("srun: error:")) {
    m = SRUN_TASK.exec(text);
    if (m) return m[1] ? { signal: STRSIGNAL[m[1]]! } : exitOrSignal(Number(m[2]));
  }
  m = ELASTIC_SIGNAL.exec(text);
  if (m) {
    const n = m[1] ? Number(m[1]) : BY_NAME.get(m[2]!);
    if (n) return { signal: n };
  }
  m = ELASTIC_EXIT.exec(text);
  if (m) {
    const n = Number(m[1] ?? m[2] ?? m[3]);
    // A launcher prints -N for a worker killed by signal N.
    if (n < 0) return { signal: -n };
    if (n > 0) return exitOrSignal(n);
  }
  return undefined;
}

function exitOrSignal(code: number): { signal?: number; code?: number } {
  return code > 128 && code < 160 ? { signal: code - 128 } : { code };
}

/** `killed by SIGKILL (signal 9): killed (it cannot be caught): by the kernel's OOM killer ...`. */
export function describeDeath(d: Death): string {
  if (d.signal !== undefined) {
    const info = SIGNALS[d.signal];
    const how = d.inferred ? `exit code ${d.signal}, which sacct prints for a shell's 128+${d.signal}: a command was most likely killed by ${signalName(d.signal)} (signal ${d.signal})` : `killed by ${signalName(d.signal)} (signal ${d.signal})`;
    return info ? `${how}: ${info.meaning}` : how;
  }
  if (d.code === 127) return "exit code 127: a command was not found (not on PATH: a module not loaded, a venv or conda env not activated, a typo, or a tool missing on the compute node)";
  if (d.code === 126) return "exit code 126: a command was found but could not be run (no execute permission, a directory, a noexec file system, or a binary for another architecture)";
  return `a process exited with code ${d.code}`;
}
