import { UsageError } from "@slurmpipe/core/cli";
import { describe, expect, it } from "vitest";
import { type PollCliArgs, optionsFromArgs } from "../src/cli-options.ts";

const defaults: PollCliArgs = {
  state: undefined,
  ledger: undefined,
  remote: undefined,
  "remote-batch-mode": false,
  interval: "60s",
  "max-backoff": "10m",
  once: false,
  timeout: undefined,
  "max-requeues": undefined,
  "lost-after": "30m",
  early: undefined,
  "early-lines": 20,
  log: undefined,
  strict: false,
  backend: "slurm",
  "slurm-bin": undefined,
  "query-timeout": "60s",
  "cancel-unsatisfiable": false,
  progress: undefined,
};

const parse = (over: Partial<PollCliArgs> = {}, stdinIsTTY = false) => optionsFromArgs({ ...defaults, ...over }, { stdinIsTTY });

describe("slurm-poll optionsFromArgs", () => {
  it("turns the defaults into the poll's options", () => {
    expect(parse()).toEqual({
      state: ".slurmpipe",
      ledger: "auto",
      intervalMs: 60_000,
      maxBackoffMs: 600_000,
      once: false,
      lostAfterMs: 1_800_000,
      earlyLines: 20,
      strict: false,
      queryTimeoutMs: 60_000,
      cancelUnsatisfiable: false,
      slurm: { backend: "slurm" },
    });
  });

  it("--progress: a duration, or off; anything else is a usage error naming the flag and the accepted forms", () => {
    expect(parse({ progress: "10m" }).progressMs).toBe(600_000);
    expect(parse({ progress: "30s", "cancel-unsatisfiable": true })).toMatchObject({ progressMs: 30_000, cancelUnsatisfiable: true });
    expect(parse({ progress: "off" }).progressMs).toBeUndefined();
    expect(parse({ progress: "0" }).progressMs).toBeUndefined();
    for (const bad of ["10 minutes", "soon", "-5s", "", "5x"]) {
      expect(() => parse({ progress: bad })).toThrow(UsageError);
      expect(() => parse({ progress: bad })).toThrow(/--progress: expected a duration like/);
    }
    expect(() => parse({ "query-timeout": "0" })).toThrow(/--query-timeout must be more than 0/);
  });

  it("tracks the ledger when --state is given or stdin is a terminal, unless --ledger says otherwise", () => {
    expect(parse({ state: ".slurmpipe" }).ledger).toBe(true);
    expect(parse({}, true).ledger).toBe(true);
    expect(parse({ state: "st", ledger: false }).ledger).toBe(false);
    expect(parse({ ledger: true }).ledger).toBe(true);
    expect(parse({ state: "st" }).state).toBe("st");
  });

  it("maps every option", () => {
    const o = parse({ interval: "5m", "max-backoff": "1m", once: true, timeout: "2h", "max-requeues": 0, "lost-after": "off", early: "3m", "early-lines": 5, log: "run.log", strict: true, backend: "local", "slurm-bin": "/b", "query-timeout": "5s" });
    expect(o).toEqual({
      state: ".slurmpipe",
      ledger: "auto",
      intervalMs: 300_000,
      maxBackoffMs: 300_000,
      once: true,
      timeoutMs: 7_200_000,
      maxRequeues: 0,
      lostAfterMs: 0,
      earlyMs: 180_000,
      earlyLines: 5,
      logFile: "run.log",
      strict: true,
      queryTimeoutMs: 5000,
      cancelUnsatisfiable: false,
      slurm: { backend: "local", binDir: "/b" },
    });
    expect(parse({ "lost-after": "0" }).lostAfterMs).toBe(0);
  });

  it("refuses bad values with usage errors", () => {
    expect(() => parse({ interval: "0" })).toThrow(new UsageError("--interval must be more than 0"));
    expect(() => parse({ "max-requeues": -1 })).toThrow(/--max-requeues: expected a whole number >= 0/);
    expect(() => parse({ "early-lines": 0 })).toThrow(/--early-lines: expected a whole number >= 1/);
    expect(() => parse({ "lost-after": "never" })).toThrow(/--lost-after: expected a duration like 30m or 2h, or off/);
    expect(() => parse({ timeout: "soon" })).toThrow(/--timeout: expected a duration/);
  });
});

describe("--remote", () => {
  it("from the flag or SLURMPIPE_REMOTE, the control socket in the state dir; a malformed host is a usage error naming its source", () => {
    expect(optionsFromArgs({ ...defaults, state: "st", remote: "lumi", "remote-batch-mode": true }, { stdinIsTTY: false }).slurm.remote).toEqual({ host: "lumi", stateDir: "st", batchMode: true });
    process.env.SLURMPIPE_REMOTE = "me@h;id";
    try {
      expect(() => optionsFromArgs(defaults, { stdinIsTTY: false })).toThrow(/^SLURMPIPE_REMOTE: bad host name/);
    } finally {
      delete process.env.SLURMPIPE_REMOTE;
    }
    expect(optionsFromArgs(defaults, { stdinIsTTY: false }).slurm.remote).toBeUndefined();
  });
});
