import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { closeRemote } from "../../../packages/core/src/remote/ssh.ts";
import { type Sshd, ensureTestUser, startSshd } from "./sshd.ts";

export interface SshdFixture {
  /** The running sshd (set in beforeAll). */
  readonly sshd: Sshd;
  /** The test user's home on HOST (its login directory). */
  readonly home: string;
  /** `SLURMPIPE_SSH` pointing at the test's ssh wrapper, for runCli's env. */
  env(): Record<string, string>;
  /** A fresh state directory (so a fresh ssh connection); its master connection is closed in afterAll. */
  stateDir(prefix: string): string;
}

/**
 * One real sshd for a test file (support/sshd.ts), started in beforeAll and stopped in afterAll,
 * after every control master the file's state directories opened has been told to exit.
 */
export function useSshd(): SshdFixture {
  let sshd: Sshd | undefined;
  let home = "";
  const states: string[] = [];
  beforeAll(async () => {
    home = await ensureTestUser();
    sshd = await startSshd();
  });
  afterAll(async () => {
    if (sshd) for (const s of states) await closeRemote({ host: sshd.host, stateDir: s, sshBin: sshd.sshBin });
    await sshd?.stop();
  });
  return {
    get sshd() {
      if (!sshd) throw new Error("useSshd: sshd is started in beforeAll");
      return sshd;
    },
    get home() {
      return home;
    },
    env() {
      return { SLURMPIPE_SSH: this.sshd.sshBin };
    },
    stateDir(prefix: string) {
      const s = mkdtempSync(join(tmpdir(), `${prefix}-`));
      states.push(s);
      return s;
    },
  };
}
