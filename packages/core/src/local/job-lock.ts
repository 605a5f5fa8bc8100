/**
 * One job file has two writers: its runner (state, reason, pid) and scancel (cancel). Each reads the
 * file, changes it and writes it back, so without a lock one of them can undo the other: a pending
 * job cancelled while its runner updated its reason came back PENDING with its queue entry gone,
 * and waited forever. Both take this lock around their read-modify-write. Node builtins only: the
 * runner's bundled text imports it (runner-process.ts).
 */
import fs from "node:fs";

/** A holder that died mid-update leaves its lock behind; an update takes milliseconds. */
const STALE_MS = 5000;
const GIVE_UP_MS = 15_000;

export function withJobLock<T>(jobFile: string, fn: () => T): T {
  const lock = `${jobFile}.lock`;
  const deadline = Date.now() + GIVE_UP_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    try {
      if (Date.now() - fs.statSync(lock).mtimeMs > STALE_MS) {
        fs.rmdirSync(lock);
        continue;
      }
    } catch {
      continue; // released meanwhile
    }
    if (Date.now() > deadline) throw new Error(`${lock}: still locked after ${GIVE_UP_MS / 1000} s`);
    Atomics.wait(pause, 0, 0, 5); // a synchronous 5 ms sleep: both writers are synchronous code
  }
  try {
    return fn();
  } finally {
    try {
      fs.rmdirSync(lock);
    } catch {}
  }
}
