import { rmdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { DirectoryError, mkdirpSync } from "./dirs.ts";

export interface LockOptions {
  /** Wait up to this long for another process to release the lock; 0 = refuse at once. */
  waitMs?: number;
  /** A lock whose holder stopped refreshing it for this long (kill -9) is taken over. */
  staleMs?: number;
}

export class LockedError extends Error {
  constructor(dir: string) {
    super(`state directory ${dir} is locked by another slurmpipe process (it is submitting or polling); wait for it or use another --state`);
    this.name = "LockedError";
  }
}

const STATE_HINT = "slurmpipe keeps its ledger and lock there: point --state at a writable directory";

/** The lock was taken over while this process held it (it was paused, or its disk stalled). */
export class LockLostError extends Error {
  constructor(dir: string, why: string) {
    super(
      `state directory ${dir}: this process lost its lock (${why}): another slurmpipe process may be using the state directory now, so this one stopped without writing to it; rerun to continue (jobs already submitted are found by their name tag)`,
    );
    this.name = "LockLostError";
  }
}

/** The lock on a state directory: call it to release; `assertHeld` before every write. */
export interface StateLock {
  (): Promise<void>;
  /** Throws LockLostError when another process has taken the lock over. */
  assertHeld(): void;
}

/**
 * Exclusive lock on a state directory, so two processes never submit the same runs. A holder
 * killed with -9 leaves a stale lock that is taken over after `staleMs`. A holder that was only
 * paused that long (SIGSTOP, a suspended laptop, a stalled file system) has lost it: `assertHeld`
 * says so before it writes again, instead of the crash proper-lockfile's default would give.
 */
export async function lockStateDir(dir: string, options: LockOptions = {}): Promise<StateLock> {
  try {
    mkdirpSync(dir);
  } catch (e) {
    throw new DirectoryError(dir, e as NodeJS.ErrnoException, "state directory", STATE_HINT);
  }
  const waitMs = options.waitMs ?? 0;
  const staleMs = Math.max(5000, options.staleMs ?? 10_000);
  const lockPath = resolve(dir, "lock");
  let lost: string | undefined;
  let unlock: () => Promise<void>;
  // Loaded here, not at the top: proper-lockfile loads signal-exit, which installs JS handlers for
  // SIGTERM and SIGINT; a JS handler runs only when the event loop is free, so a command that
  // takes no lock (log-parse, summary-md, ...) would stop late on a signal during long work.
  const { default: lockfile } = await import("proper-lockfile");
  try {
    unlock = await lockfile.lock(dir, {
      lockfilePath: lockPath,
      stale: staleMs,
      update: Math.floor(staleMs / 2),
      realpath: false,
      retries: waitMs > 0 ? { retries: Math.ceil(waitMs / 500), minTimeout: 500, maxTimeout: 500, factor: 1 } : 0,
      onCompromised: (e) => {
        lost ??= `it was not refreshed within ${staleMs / 1000} s: ${e.message}`;
        heldLocks.delete(lockPath);
      },
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ELOCKED") throw new LockedError(dir);
    throw new DirectoryError(dir, e as NodeJS.ErrnoException, "state directory", STATE_HINT);
  }
  // The lock directory as created: a takeover removes it and makes another one.
  const mine = identity(lockPath);
  heldLocks.add(lockPath);
  // One exit listener for the process, not one per lock taken (a long test run or library user
  // that locks and releases many times warned MaxListenersExceeded).
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", removeHeldLocks);
  }
  const lock = (async () => {
    try {
      if (!lost) await unlock();
    } finally {
      heldLocks.delete(lockPath);
    }
  }) as StateLock;
  lock.assertHeld = () => {
    if (!lost && identity(lockPath) !== mine) {
      lost = "another process took it over after it went stale";
      heldLocks.delete(lockPath);
    }
    if (lost) throw new LockLostError(dir, lost);
  };
  return lock;
}

function identity(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.birthtimeNs}`;
  } catch {
    return undefined;
  }
}

/**
 * Locks this process holds, or is still releasing. proper-lockfile removes its locks on exit, but
 * forgets a lock the moment its release starts, before the lock directory is gone: a command that
 * exits then (`slurm-poll --once | head -1` exits on EPIPE while releasing) left a lock that made
 * the next run fail as "locked by another process" until it went stale. A lock lost to a takeover
 * is not in the set: it belongs to the other process.
 */
const heldLocks = new Set<string>();
let exitHookInstalled = false;

function removeHeldLocks(): void {
  for (const path of heldLocks) {
    try {
      rmdirSync(path);
    } catch {
      // already gone
    }
  }
}
