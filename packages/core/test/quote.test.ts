import { execa } from "execa";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { QuoteError, escapeForDoubleQuotes, quoteArgv, shellQuote } from "../src/shell/quote.ts";

const NASTY = ["$(touch /tmp/pwned)", "`id`", "it's", 'say "hi"', "a;b", "x\ny", " lead", "#hash", "back\\slash", "☃ unicode ü", "", "*", "~", "a=b", "$HOME", "tab\there", "cr\rx", "\u001b[31m", "!event"];

async function argvThroughBash(script: string): Promise<Buffer> {
  const r = await execa("bash", ["-c", script], { encoding: "buffer", reject: false, stdin: "ignore" });
  if (r.exitCode !== 0) throw new Error(`bash failed: ${Buffer.from(r.stderr as Uint8Array).toString()}`);
  return Buffer.from(r.stdout as Uint8Array);
}

function expected(values: string[]): Buffer {
  return Buffer.concat(values.map((v) => Buffer.from(`${v}\0`, "utf8")));
}

// Any code point but NUL (which no argv can hold); lone surrogates cannot be encoded as UTF-8 argv either.
const value = fc.string({ unit: "binary", maxLength: 24 }).filter((s) => !s.includes("\u0000") && !/[\uD800-\uDFFF]/.test(s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, "")));

describe("shellQuote", () => {
  it("leaves plain words alone and quotes everything else", () => {
    expect(shellQuote("lr=0.1")).toBe("lr=0.1");
    expect(shellQuote("/opt/x.sif")).toBe("/opt/x.sif");
    expect(shellQuote("a=b", { commandWord: true })).toBe("'a=b'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("a\nb")).toBe("$'a\\nb'");
    expect(() => shellQuote("a\u0000b")).toThrow(QuoteError);
  });

  it("hand-picked hostile values reach argv byte for byte", async () => {
    const out = await argvThroughBash(`printf '%s\\0' ${NASTY.map((v) => shellQuote(v)).join(" ")}`);
    expect(out.equals(expected(NASTY))).toBe(true);
  });

  it("property: any string reaches argv byte for byte through bash -c", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 6 }), async (values) => {
        const out = await argvThroughBash(quoteArgv(["printf", "%s\\0", ...values]));
        expect(out.equals(expected(values))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it("property: and still byte for byte inside bash -c \"...\" (the apptainer wrapper)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 4 }), async (values) => {
        const inner = quoteArgv(["printf", "%s\\0", ...values]);
        const out = await argvThroughBash(`bash -c "\n    ${escapeForDoubleQuotes(inner)}\n"`);
        expect(out.equals(expected(values))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
