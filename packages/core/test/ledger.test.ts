import { appendFileSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Ledger, LedgerCorruptError, type LedgerEntry, LedgerTail, scanLedgerFile } from "../src/index.ts";

/**
 * The ledger's crash-safety rules, once, against core's API (slurm-submit's view and slurm-poll's
 * follower are built on it and test only what they add).
 */
const tmpLedger = () => new Ledger(mkdtempSync(join(tmpdir(), "sp-core-ledger-")));
const entry = (i: number): LedgerEntry => ({ t: "submitted", run_id: `r${i}`, attempt: 1, job_id: `${100 + i}`, job_name: `n.r${i}`, at: "t", record: { id: `r${i}`, name: "✓ é" } });
const line = (i: number) => `${JSON.stringify(entry(i))}\n`;

async function scan(text: string): Promise<{ runs: string[]; lines: number[]; torn?: number } | { error: string }> {
  const ledger = tmpLedger();
  writeFileSync(ledger.path, text);
  const runs: string[] = [];
  const lines: number[] = [];
  try {
    const pass = await scanLedgerFile(ledger.path, (s) => {
      runs.push(s.entry.run_id);
      lines.push(s.line);
    });
    return pass.torn === undefined ? { runs, lines } : { runs, lines, torn: pass.torn };
  } catch (e) {
    expect(e).toBeInstanceOf(LedgerCorruptError);
    return { error: (e as Error).message.replace(ledger.path, "L") };
  }
}

describe("reading the ledger: a torn tail is ignored, anything else bad is corruption", () => {
  it.each([
    ["whole lines", `${line(1)}${line(2)}`, { runs: ["r1", "r2"], lines: [1, 2] }],
    ["a last line cut mid-append", `${line(1)}${line(2).slice(0, 20)}`, { runs: ["r1"], lines: [1], torn: 2 }],
    ["a bad last line with its newline", `${line(1)}{"t":"subm\n`, { runs: ["r1"], lines: [1], torn: 2 }],
    ["a whole entry without its newline is read", `${line(1)}${line(2).trimEnd()}`, { runs: ["r1", "r2"], lines: [1, 2] }],
    // Nothing after a torn line is trusted, not even a whole entry (repair cuts from the torn line).
    ["a bad line, then a last piece", `${line(1)}{bad\n${line(2).trimEnd()}`, { runs: ["r1"], lines: [1], torn: 2 }],
    ["a bad line with a line after it", `${line(1)}{bad\n${line(2)}`, { error: "L:2: corrupt ledger line" }],
    ["a bad first line", `{bad\n${line(1)}${line(2)}`, { error: "L:1: corrupt ledger line" }],
    ["null, an array, an object without its kind", `null\n[1]\n{"t":"x"}\n${line(1)}`, { error: "L:1: corrupt ledger line" }],
    ["blank lines", `${line(1)}\n\n${line(2)}`, { runs: ["r1", "r2"], lines: [1, 4] }],
    ["CRLF", `${line(1).trimEnd()}\r\n${line(2).trimEnd()}\r\n`, { runs: ["r1", "r2"], lines: [1, 2] }],
    ["empty", "", { runs: [], lines: [] }],
  ])("%s", async (_, text, expected) => {
    expect(await scan(text)).toEqual(expected);
  });

  it("a missing ledger is empty; Ledger.read gives the same entries", async () => {
    const ledger = tmpLedger();
    expect((await ledger.read()).entries).toEqual([]);
    writeFileSync(ledger.path, `${line(1)}${line(2).slice(0, 9)}`);
    expect(await ledger.read()).toEqual({ entries: [entry(1)], tornLine: 2 });
  });

  it("reads lines longer than its 1 MiB chunks", async () => {
    const ledger = tmpLedger();
    const big = { ...entry(1), record: { blob: "x".repeat(3 << 20) } } as LedgerEntry;
    await ledger.appendMany([big, entry(2)]);
    expect((await ledger.read()).entries).toEqual([big, entry(2)]);
  });
});

describe("repairing a torn tail before the first append", () => {
  it.each([
    ["nothing to do", `${line(1)}${line(2)}`, `${line(1)}${line(2)}`, false],
    ["a cut line is cut off", `${line(1)}${line(2).slice(0, 20)}`, line(1), true],
    ["a bad last line with its newline is cut off", `${line(1)}{"t":"subm\n`, line(1), true],
    ["a whole entry gets its newline (its job id is kept)", `${line(1)}${line(2).trimEnd()}`, `${line(1)}${line(2)}`, true],
    ["a bad line and a piece after it: both cut", `${line(1)}{bad\n${line(2).trimEnd()}`, line(1), true],
    ["a file that is one cut line", line(1).slice(0, 7), "", true],
    ["trailing spaces without a newline", `${line(1)}  `, line(1), true],
  ])("%s", async (_, before, after, changed) => {
    const ledger = tmpLedger();
    writeFileSync(ledger.path, before);
    expect(await ledger.repairTorn()).toBe(changed);
    expect(readFileSync(ledger.path, "utf8")).toBe(after);
    // Appending after a repair never makes the ledger corrupt.
    await ledger.append(entry(9));
    expect((await ledger.read()).entries.at(-1)).toEqual(entry(9));
  });

  it("reads only the tail of a big ledger, and nothing of a missing one", async () => {
    const ledger = tmpLedger();
    expect(await ledger.repairTorn()).toBe(false);
    const many = Array.from({ length: 4000 }, (_, i) => line(i)).join("");
    writeFileSync(ledger.path, `${many}{"t":"in`);
    const ino = statSync(ledger.path).ino;
    expect(await ledger.repairTorn()).toBe(true);
    expect(readFileSync(ledger.path, "utf8")).toBe(many);
    expect(statSync(ledger.path).ino).toBe(ino); // truncated in place: a follower's offset stays valid
  });

  it("checks the state lock before it writes", async () => {
    const ledger = tmpLedger();
    writeFileSync(ledger.path, `${line(1)}{"t"`);
    ledger.guard = () => {
      throw new Error("lock lost");
    };
    await expect(ledger.repairTorn()).rejects.toThrow("lock lost");
    expect(readFileSync(ledger.path, "utf8")).toBe(`${line(1)}{"t"`);
  });
});

describe("appending", () => {
  it("appendRaw writes the bytes given, appendMany the same bytes from entries", async () => {
    const a = tmpLedger();
    const b = tmpLedger();
    await a.appendMany([entry(1), entry(2)]);
    await b.appendRaw(Buffer.from(line(1) + line(2)));
    expect(readFileSync(a.path)).toEqual(readFileSync(b.path));
    await b.appendRaw(Buffer.alloc(0));
    expect(readFileSync(b.path, "utf8")).toBe(line(1) + line(2));
  });
});

describe("following the ledger from a byte offset", () => {
  async function pass(tail: LedgerTail): Promise<{ replaced: boolean; lines: number[]; texts: string[] } | undefined> {
    const p = await tail.next();
    if (!p) return undefined;
    try {
      const lines: number[] = [];
      const texts: string[] = [];
      for await (const s of p.entries()) {
        lines.push(s.line);
        texts.push(await p.text(s.start, s.end));
      }
      return { replaced: p.replaced, lines, texts };
    } finally {
      await p.close();
    }
  }

  it("gives only what was appended since the last pass, a line still being written once it is whole", async () => {
    const ledger = tmpLedger();
    const tail = new LedgerTail(ledger.path);
    expect(await pass(tail)).toBeUndefined();
    writeFileSync(ledger.path, line(1) + line(2).slice(0, 30));
    expect(await pass(tail)).toEqual({ replaced: true, lines: [1], texts: [line(1).trimEnd()] });
    appendFileSync(ledger.path, line(2).slice(30));
    expect(await pass(tail)).toEqual({ replaced: false, lines: [2], texts: [line(2).trimEnd()] });
    expect(await pass(tail)).toEqual({ replaced: false, lines: [], texts: [] });
  });

  it("a torn line is read again; once lines follow it, it is corruption", async () => {
    const ledger = tmpLedger();
    writeFileSync(ledger.path, `${line(1)}{"t":"subm\n`);
    const tail = new LedgerTail(ledger.path);
    expect((await pass(tail))?.lines).toEqual([1]);
    appendFileSync(ledger.path, line(3) + line(4));
    await expect(pass(tail)).rejects.toThrow(`${ledger.path}:2: corrupt ledger line`);
  });

  it("a ledger replaced in its place, or cut below the offset, is read from the start", async () => {
    const ledger = tmpLedger();
    writeFileSync(ledger.path, line(1) + line(2));
    const tail = new LedgerTail(ledger.path);
    expect((await pass(tail))?.lines).toEqual([1, 2]);
    writeFileSync(`${ledger.path}.new`, line(1) + line(2) + line(3));
    renameSync(`${ledger.path}.new`, ledger.path);
    expect(await pass(tail)).toMatchObject({ replaced: true, lines: [1, 2, 3] });
    writeFileSync(ledger.path, line(5)); // same inode, shorter
    expect(await pass(tail)).toMatchObject({ replaced: true, lines: [1] });
  });
});
