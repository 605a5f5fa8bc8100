import { UsageError } from "@slurmpipe/core/cli";
import { describe, expect, it } from "vitest";
import { FOREVER_MS, type SubmitCliArgs, optionsFromArgs } from "../src/cli-options.ts";
import * as select from "../src/select.ts";

const defaults: SubmitCliArgs = {
  _: [],
  state: undefined,
  "wait-lock": undefined,
  "lock-stale": "10s",
  remote: undefined,
  "remote-batch-mode": false,
  "dry-run": false,
  resubmit: undefined,
  "resubmit-where": undefined,
  only: undefined,
  stagger: "0",
  rate: undefined,
  "max-in-flight": undefined,
  "in-flight-interval": "20s",
  "sbatch-arg": undefined,
  attempts: 5,
  "confirm-delay": "3s",
  "sbatch-timeout": "60s",
  backend: "slurm",
  "slurm-bin": undefined,
  strict: false,
  quiet: false,
  verbose: false,
};

const parse = (over: Partial<SubmitCliArgs> = {}) => optionsFromArgs({ ...defaults, ...over }, select);

describe("slurm-submit optionsFromArgs", () => {
  it("turns the defaults into the submission's options", () => {
    expect(parse()).toEqual({
      inputs: [],
      stateDir: ".slurmpipe",
      dryRun: false,
      strict: false,
      resubmitWhere: [],
      only: [],
      staggerMs: 0,
      inFlightIntervalMs: 20_000,
      sbatchArgs: [],
      submitAttempts: 5,
      confirmDelayMs: 3000,
      waitLockMs: 0,
      lockStaleMs: 10_000,
      client: { backend: "slurm", timeoutMs: 60_000 },
      quiet: false,
      verbose: false,
    });
  });

  it("maps every option", () => {
    const o = parse({
      _: ["a.ndjson", 7],
      state: "st",
      "dry-run": true,
      resubmit: "failed",
      "resubmit-where": ["state.state=TIMEOUT"],
      only: ["group!=x"],
      stagger: "5s",
      rate: "20/1m",
      "max-in-flight": 50,
      "in-flight-interval": "0",
      "sbatch-arg": ["--hold"],
      "wait-lock": "",
      backend: "local",
      "slurm-bin": "/opt/slurm/bin",
      quiet: true,
    });
    expect(o).toMatchObject({
      inputs: ["a.ndjson", "7"],
      stateDir: "st",
      dryRun: true,
      resubmit: { kind: "failed" },
      staggerMs: 5000,
      rate: { count: 20, periodMs: 60_000 },
      maxInFlight: 50,
      inFlightIntervalMs: 1000,
      sbatchArgs: ["--hold"],
      waitLockMs: FOREVER_MS,
      client: { backend: "local", timeoutMs: 60_000, binDir: "/opt/slurm/bin" },
      quiet: true,
    });
    expect(o.resubmitWhere?.[0]).toMatchObject({ path: ["state", "state"], values: ["TIMEOUT"], negate: false });
    expect(o.only?.[0]).toMatchObject({ path: ["group"], negate: true });
    expect(parse({ "wait-lock": "10m" }).waitLockMs).toBe(600_000);
  });

  it("refuses bad values with usage errors", () => {
    expect(() => parse({ "max-in-flight": 0 })).toThrow(new UsageError("--max-in-flight: expected a whole number > 0, got 0"));
    expect(() => parse({ attempts: 1.5 })).toThrow(/--attempts: expected a whole number > 0/);
    expect(() => parse({ "lock-stale": "2s" })).toThrow(/--lock-stale: at least 5s/);
    expect(() => parse({ stagger: "soon" })).toThrow(/--stagger: expected a duration/);
    expect(() => parse({ rate: "x" })).toThrow(UsageError);
    expect(() => parse({ only: ["nope"] })).toThrow(/--only: expected FIELD=VALUE/);
  });
});

describe("--remote", () => {
  it("puts the host on the Slurm client with the control socket in the state dir (the local backend's too: bare-box mode); refuses a malformed host", () => {
    const o = optionsFromArgs({ ...defaults, state: "st", remote: "me@127.0.0.1:2222" }, select);
    expect(o.client?.remote).toEqual({ host: "me@127.0.0.1:2222", stateDir: "st", batchMode: false });
    expect(() => optionsFromArgs({ ...defaults, remote: "-oProxyCommand=id" }, select)).toThrow(/--remote: a host cannot start with '-'/);
    expect(optionsFromArgs({ ...defaults, state: "st", remote: "box", backend: "local" }, select).client).toMatchObject({ backend: "local", remote: { host: "box", stateDir: "st" } });
    expect(optionsFromArgs(defaults, select).client?.remote).toBeUndefined();
  });
});
