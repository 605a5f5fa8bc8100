import type { FailureClass } from "@slurmpipe/core";
import { DEATH_HINT } from "./exits.ts";

/**
 * Failure signatures (shared/reference/log-formats.md §2 and §4), each with a literal that must
 * occur in the line before its regex runs. Order inside a class does not matter; which class is
 * reported first is decided in classify.ts.
 */
export interface Anchor {
  cls: FailureClass;
  quick: string;
  re: LineTest;
  /** Short description used as the failure message when the line itself is too long. */
  what: string;
}

/** What an anchor needs of its pattern: a RegExp, or a hand-written test where a regex is not linear. */
export interface LineTest {
  test(text: string): boolean;
}

const a = (cls: FailureClass, quick: string, re: LineTest, what: string): Anchor => ({ cls, quick, re, what });

/**
 * `head.*tail` without its quadratic case: a regex retries `.*` from every occurrence of the head
 * and scans to the end of the line each time, so a line made of the head repeated (say
 * "exceeded memory limit " 50,000 times) cost O(n^2). The first head leaves the longest rest, so
 * it alone decides: one search for it, one for the tail after it. (A segment holds no \n or \r,
 * so `.`'s line terminators are only U+2028/U+2029, which log lines do not contain.)
 */
export function headThenTail(head: RegExp, tail: RegExp): LineTest {
  const after = new RegExp(tail.source, "g");
  return {
    test(text: string): boolean {
      const m = head.exec(text);
      if (!m) return false;
      after.lastIndex = m.index + m[0].length;
      return after.test(text);
    },
  };
}

export const ANCHORS: readonly Anchor[] = [
  a("CUDA_OOM", "out of memory", /\b(?:CUDA|HIP) out of memory/, "GPU out of memory"),
  a("CUDA_OOM", "out of memory", /cuda runtime error \(2\) : out of memory/, "GPU out of memory"),
  a("CUDA_OOM", "OutOfMemoryError", /\bOutOfMemoryError\b/, "GPU out of memory"),
  a("CUDA_OOM", "RESOURCE_EXHAUSTED", /RESOURCE_EXHAUSTED: Out of memory|ResourceExhaustedError: OOM/, "GPU out of memory"),
  a("HOST_OOM", "oom", /oom[-_]kill event/, "host memory exhausted: the cgroup OOM killer ended the job"),
  a("HOST_OOM", "Out Of Memory", /\btasks? [\d,-]+: Out Of Memory/, "host memory exhausted (srun: Out Of Memory)"),
  a("HOST_OOM", "exceeded memory limit", headThenTail(/exceeded memory limit /, / being killed/), "host memory exhausted: job exceeded its memory limit"),
  // numpy raises its own subclass: `numpy._core._exceptions._ArrayMemoryError: Unable to allocate 8.00 GiB ...`
  a("HOST_OOM", "MemoryError", /^(?:[\w.]+\.)?(?:_Array)?MemoryError\b/, "host memory exhausted (Python MemoryError)"),
  a("HOST_OOM", "Cannot allocate memory", /\[Errno 12\] Cannot allocate memory|std::bad_alloc/, "host memory exhausted"),
  // PyTorch's CPU allocator: `RuntimeError: [enforce fail at alloc_cpu.cpp:127] ... DefaultCPUAllocator:
  // can't allocate memory: you tried to allocate N bytes. Error code 12` (test/fixtures/real/).
  a("HOST_OOM", "DefaultCPUAllocator", /DefaultCPUAllocator: (?:can't allocate memory|not enough memory)/, "host memory exhausted (PyTorch's CPU allocator)"),
  a("TIME_LIMIT", "DUE TO TIME LIMIT", /CANCELLED AT \S+ DUE TO TIME LIMIT/, "time limit reached"),
  a("PREEMPTED", "DUE TO PREEMPTION", /CANCELLED AT \S+ DUE TO PREEMPTION/, "preempted"),
  a("NODE_FAIL", "DUE TO NODE FAIL", /CANCELLED AT \S+ DUE TO NODE FAIL/, "node failure"),
  a("CANCELLED", "CANCELLED AT", /\*\*\* (?:JOB|STEP) \S+ (?:ON \S+ )?CANCELLED AT \S+ \*\*\*/, "cancelled"),
  a("NCCL", "Watchdog caught collective operation timeout", /Watchdog caught collective operation timeout/, "NCCL/RCCL collective timed out"),
  a("NCCL", "NCCL", /NCCL error|ncclSystemError|ncclUnhandledCudaError|ncclInternalError|ncclRemoteError|ncclInvalidUsage|NCCL communicator was aborted|Some NCCL operations have failed or timed out|NCCL watchdog thread terminated/, "NCCL/RCCL error"),
  // The watchdog's own log line and stack frames, when its message is cut or absent (`[E602 ...
  // ProcessGroupNCCL.cpp:632] [Rank 5] Watchdog ...`, `c10d::ProcessGroupNCCL::WorkNCCL::checkTimeout(...)`).
  a("NCCL", "ProcessGroupNCCL", /ProcessGroupNCCL\.cpp:\d{1,9}\] \[(?:PG [^\]]{0,120} )?Rank \d{1,9}\] Watchdog|ProcessGroupNCCL::(?:WorkNCCL::checkTimeout|ncclCommWatchdog|watchdogHandler)\b/, "NCCL/RCCL watchdog: a collective timed out or failed"),
  a("NCCL", "DistBackendError", /\bDistBackendError\b/, "distributed backend (NCCL/RCCL) error"),
  a("ECC_XID", "ECC", /uncorrectable ECC error|cudaErrorECCUncorrectable|ECC error/, "GPU ECC error (hardware)"),
  a("ECC_XID", "Xid", headThenTail(/\bXid\b/, /:\s*\d/), "GPU Xid error (hardware)"),
  a("ECC_XID", "fallen off the bus", /fallen off the bus/, "GPU has fallen off the bus (hardware)"),
  a("ILLEGAL_MEMORY_ACCESS", "illegal memory access", /illegal memory access/, "illegal memory access on the GPU"),
  a("ILLEGAL_MEMORY_ACCESS", "Memory access fault", /Memory access fault by GPU/, "GPU memory access fault"),
  a("ILLEGAL_MEMORY_ACCESS", "misaligned address", /CUDA error: misaligned address/, "misaligned address on the GPU"),
  a("SEGFAULT", "Segmentation fault", /Segmentation fault/, "segmentation fault"),
  a("SEGFAULT", "SIGSEGV", /\bSIGSEGV\b/, "segmentation fault (SIGSEGV)"),
  a("SEGFAULT", "Bus error", /\bBus error\b|\bbus error\b/, "bus error"),
  a("SEGFAULT", "SIGBUS", /\bSIGBUS\b/, "bus error (SIGBUS)"),
  a("IMPORT_ERROR", "ModuleNotFoundError", /\bModuleNotFoundError\b/, "a Python module is missing"),
  a("IMPORT_ERROR", "ImportError", /^(?:[\w.]+\.)?ImportError\b/, "a Python import failed"),
  a("IMPORT_ERROR", "command not found", /: (?:line \d+: )?[\w./+-]+: command not found/, "a command is missing from the environment"),
  a("IMPORT_ERROR", "No such file or directory", /(?:: line \d+: |^|\s)(?:\S*\/)?(?:python[\d.]*|torchrun|deepspeed|accelerate|srun|conda|mamba|apptainer|singularity|[\w.-]*\/bin\/activate)['’]?: No such file or directory/, "the interpreter or environment is missing"),
  // slurmstepd, when srun's command is not there: `slurmstepd-n1: error: execve(): nonexistent_tool: No such file or directory`
  a("IMPORT_ERROR", "execve(): ", headThenTail(/execve\(\): /, /: No such file or directory/), "srun's command was not found on the node"),
  a("IMPORT_ERROR", "can't open file", headThenTail(/python[\d.]*: can't open file /, /No such file or directory/), "the training script path does not exist"),
  a("IMPORT_ERROR", "cannot open shared object file", /cannot open shared object file/, "a shared library is missing from the environment"),
  a("IMPORT_ERROR", "Lmod has detected", /Lmod has detected the following error|The following module\(s\) are unknown|Unable to locate a modulefile/, "a module could not be loaded"),
  a("IMPORT_ERROR", "No CUDA GPUs are available", /No CUDA GPUs are available|Found no NVIDIA driver|CUDA driver version is insufficient/, "no usable GPU in the environment"),
  a("DISK_FULL", "Disk quota exceeded", /Disk quota exceeded/, "disk quota exceeded"),
  a("DISK_FULL", "No space left on device", /No space left on device/, "no space left on device"),
  a("NAN_LOSS", "nan", /Loss is nan|returned nan values|found NaN in local grad norm|Unexpected result nan/, "the loss became NaN"),
  a("NAN_LOSS", "finite", /\bis not finite\b|Loss became infinite or NaN/, "the loss became non-finite"),
  a("NAN_LOSS", "Nan/Inf", /gradients are Nan\/Inf/, "gradients became NaN/Inf"),
  a("NAN_LOSS", "loss scale", /Minimum loss scale reached|loss scale already at minimum/, "fp16 loss scale collapsed (the loss exploded)"),
  a("NAN_LOSS", "NaN or Inf found", /NaN or Inf found in input tensor/, "NaN/Inf values were logged"),
];

/** Cheap test before the anchor loop: any of the anchors' literals. */
export const FAILURE_HINT = new RegExp(
  `${String.raw`out of memory|OutOfMemory|RESOURCE_EXHAUSTED|oom|Out Of Memory|exceeded memory|MemoryError|allocate memory|bad_alloc|DUE TO|CANCELLED AT|Watchdog|NCCL|nccl|DistBackend|ECC|Xid|fallen off|illegal memory|Memory access fault|misaligned|Segmentation|SIGSEGV|[Bb]us error|SIGBUS|ImportError|ModuleNotFound|not found|No such file|can't open|shared object|Lmod|module|No CUDA GPUs|NVIDIA driver|driver version|quota|No space|nan|NaN|finite|Nan\/Inf|loss scale`}|${DEATH_HINT.source}`,
);

const BENIGN_RE =
  /^\S.*?:\d+: \w*Warning: |^\s*warnings\.warn\(|Setting OMP_NUM_THREADS|MIOpen\(HIP\): Warning|cuDNN|cudnn|[Aa]utotun|OVERFLOW! Rank \d+ Skipping step|container_p_join|Exception ignored in: <function tqdm|\bWARNING\b|\bWarning\b|\bwarning\b|NCCL WARN Missing "iommu=pt"|^W\d{4} \d\d:/;
/** MIOpen's tuning-database notes (`MIOpen.*(?:[Pp]erf|[Tt]un|[Dd]atabase)`, made linear). */
const MIOPEN_NOTE = headThenTail(/MIOpen/, /[Pp]erf|[Tt]un|[Dd]atabase/);
/** Benign noise (§2.13): counted, never a failure. */
export const BENIGN: LineTest = { test: (text) => BENIGN_RE.test(text) || MIOPEN_NOTE.test(text) };
/** Continuation lines of a Python warning (`  warnings.warn(`) are part of the warning just counted. */
export const BENIGN_CONTINUATION = /^\s+(?:warnings\.warn\(|super\(\)\.__init__)/;

/** A line that shows the job saw a GPU. */
export const GPU_LINE =
  /GPU available: True \(\w+\), used: True|CUDA_VISIBLE_DEVICES[=: ]+\[?\d|HIP_VISIBLE_DEVICES[=: ]+\d|ROCR_VISIBLE_DEVICES[=: ]+\d|[Uu]sing (?:device|GPU)[:= ]+['"]?(?:cuda|gpu|hip)|device[=:] ?['"]?cuda|\bcuda:\d|^GPU \d+: \S|NVIDIA [A-Z]\S*\d|AMD Instinct|\bMI\d{3}X?\b|is_available\(\)[:= ]+True|\bgfx9\d\w\b|Tesla [A-Z]\d/;
/** A line that shows the job ran on the CPU. */
export const CPU_LINE = /GPU available: (?:False|True \(\w+\), used: False)|[Uu]sing device[:= ]+['"]?cpu\b|device[=:] ?['"]?cpu['"]?\b|is_available\(\)[:= ]+False|CUDA (?:is )?not available|running on CPU/;
export const GPU_HINT = /GPU|gpu|cuda|CUDA|VISIBLE_DEVICES|[Dd]evice|NVIDIA|AMD|MI\d|available|gfx|Tesla|CPU/;
