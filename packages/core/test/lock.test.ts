import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Ledger, type LedgerEntry, LockLostError, lockStateDir, parseLedgerLine } from "../src/index.ts";

const entry: LedgerEntry = { t: "intent", run_id: "r1", attempt: 1, job_name: "a.spr1", at: "2026-01-01T00:00:00Z", argv: [] };

describe("a state lock taken over while its holder was paused", () => {
  it("is reported as lost before the next write, which does not happen; releasing leaves the new holder's lock", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-lock-"));
    const lock = await lockStateDir(dir);
    const ledger = new Ledger(dir);
    ledger.guard = lock.assertHeld;
    await ledger.append(entry);
    // What a second process does to a stale lock: remove it, make its own.
    rmdirSync(join(dir, "lock"));
    mkdirSync(join(dir, "lock"));
    expect(() => lock.assertHeld()).toThrow(LockLostError);
    await expect(ledger.append({ ...entry, run_id: "r2" })).rejects.toThrow(/lost its lock .*stopped without writing/);
    expect(readFileSync(ledger.path, "utf8").trim().split("\n")).toHaveLength(1);
    await lock(); // no internal error
    expect(existsSync(join(dir, "lock")), "the other process's lock stays").toBe(true);
  });

  it("is reported as lost when it went stale under its holder, instead of crashing in a timer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-lock-stale-"));
    const lock = await lockStateDir(dir, { staleMs: 5000 });
    // The refresh timer (every staleMs/2) finds the lock changed behind its back: proper-lockfile's
    // default would throw from the timer (an uncaught exception); here it marks the lock lost.
    utimesSync(join(dir, "lock"), new Date(0), new Date(0));
    await new Promise((r) => setTimeout(r, 3500));
    expect(() => lock.assertHeld()).toThrow(/not refreshed within 5 s/);
    await lock();
  }, 10_000);

  it("is held as long as nobody touched it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-lock-held-"));
    const lock = await lockStateDir(dir);
    expect(() => lock.assertHeld()).not.toThrow();
    await lock();
    expect(existsSync(join(dir, "lock"))).toBe(false);
  });
});

describe("ledger lines", () => {
  it("accepts entries and nothing else", () => {
    expect(parseLedgerLine(JSON.stringify(entry))).toEqual(entry);
    for (const bad of ["null", "[]", "3", '"x"', "{}", '{"t":"intent"}', '{"t":"bogus","run_id":"r","attempt":1}', '{"t":"intent","run_id":5,"attempt":1}', "{"]) {
      expect(parseLedgerLine(bad), bad).toBeUndefined();
    }
  });

  it("a null line in the middle is a corrupt line named by its number, not a TypeError", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-ledger-null-"));
    writeFileSync(join(dir, "ledger.ndjson"), `${JSON.stringify(entry)}\nnull\n${JSON.stringify(entry)}\n`);
    await expect(new Ledger(dir).read()).rejects.toThrow(/ledger.ndjson:2: corrupt ledger line/);
  });
});

describe("a state directory that cannot be made", () => {
  it("is named, with the reason in words and what to do", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-lock-notdir-"));
    writeFileSync(join(dir, "file"), "");
    await expect(lockStateDir(join(dir, "file", "state"))).rejects.toThrow(
      `state directory ${join(dir, "file", "state")} cannot be written (a part of the path is a file, not a directory); slurmpipe keeps its ledger and lock there: point --state at a writable directory`,
    );
  });
});
