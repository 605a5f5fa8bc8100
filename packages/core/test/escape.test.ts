import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { ErrorCounter, createLogger, escapeForTerminal } from "../src/index.ts";

const captured = () => {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => {
    text += d.toString();
  });
  return { out, text: () => text };
};

describe("untrusted text on the terminal", () => {
  it("shows control characters as escapes and keeps readable text", () => {
    expect(escapeForTerminal("run \u001b[2J\u001b]0;pwned\u0007 é ok\tx")).toBe("run \\x1b[2J\\x1b]0;pwned\\x07 é ok\tx");
    expect(escapeForTerminal("a\rb\u009bc\u007f")).toBe("a\\x0db\\x9bc\\x7f");
    expect(escapeForTerminal("left\u202eright\u2066")).toBe("left\\u202eright\\u2066");
  });

  it("indents a line break, so no input prints a line that looks like the command's own", () => {
    expect(escapeForTerminal("name\nslurm-submit: error: fake")).toBe("name\n    slurm-submit: error: fake");
    expect(escapeForTerminal("tail:\n    already indented")).toBe("tail:\n    already indented");
  });

  it("every logger level and every bad-line report escapes; the logger's own colours stay", () => {
    const c = captured();
    const tty = Object.assign(c.out, { isTTY: true });
    const log = createLogger("x", { stderr: tty, env: {} });
    log.error("bad \u001b[31m name");
    log.warn("w \u0007");
    log.info("i \u001b");
    expect(c.text()).toContain("bad \\x1b[31m name");
    expect(c.text()).toContain("w \\x07");
    expect(c.text()).toContain("i \\x1b");
    expect(c.text()).toContain("\u001b[31merror:\u001b[0m"); // colour on a TTY, added after escaping
    const d = captured();
    new ErrorCounter("y", d.out).report({ source: "stdin", line: 3, message: 'not JSON: "\u001b[2J"' });
    expect(d.text()).toBe('y: error: stdin:3: not JSON: "\\x1b[2J"\n');
  });
});
