// `slurmpipe completion bash|zsh` in the shells themselves: the script a user sources, and each TAB
// answered by the built distribution (packages/slurmpipe/dist/slurmpipe.cjs) under the names npm
// links to it. bash: the completion function called with COMP_WORDS as bash sets them. zsh: a real
// interactive zsh on a pseudo-terminal (zsh/zpty) where TAB is pressed and the command line read back.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";

const COMMANDS = ["sweep-gen", "slurm-render", "slurm-submit", "slurm-poll", "log-parse", "summary-md", "archive"];
const bundle = join(repoRoot, "packages/slurmpipe/dist/slurmpipe.cjs");
const root = mkdtempSync(join(tmpdir(), "sp-completion-"));
const bin = join(root, "bin");
const work = join(root, "work");
const env = { PATH: `${bin}:${process.env.PATH}`, HOME: root, TERM: "xterm" };

beforeAll(() => {
  mkdirSync(bin);
  mkdirSync(work);
  chmodSync(bundle, 0o755);
  for (const name of ["slurmpipe", ...COMMANDS]) symlinkSync(bundle, join(bin, name));
  for (const f of ["grid.yaml", "gx.txt"]) writeFileSync(join(work, f), "");
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What bash's completion gives for each command line (the last word the one being completed). */
async function bashCompletes(lines: string[][]): Promise<string[][]> {
  const script = [
    "source <(slurmpipe completion bash) || exit 9",
    't() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _slurmpipe_complete; printf "%s\\t" "${COMPREPLY[@]}"; echo; }',
    ...lines.map((words) => `t ${words.map((w) => `'${w}'`).join(" ")}`),
  ].join("\n");
  const r = await execa("bash", ["--norc", "--noprofile", "-c", script], { cwd: work, env, extendEnv: false });
  return String(r.stdout)
    .split("\n")
    .map((l) => l.split("\t").filter((w) => w !== ""));
}

describe("bash", () => {
  it("completes command names, flags, choices and files from each command's own options", async () => {
    const got = await bashCompletes([
      ["slurm-poll", "--ti"],
      ["slurmpipe", "slurm-poll", "--ti"],
      ["slurmpipe", "su"],
      ["slurmpipe", "completion", ""],
      ["slurm-submit", "--backend", ""],
      ["slurm-submit", "--backend", "=", "l"],
      ["slurm-submit", "--backend", "="],
      ["sweep-gen", "g"],
      ["slurm-render", "-P", "x", "--requeue-on"],
      ["slurm-render", "--out", "g"],
      ["slurm-poll", "--once", "g"],
    ]);
    const files = ["grid.yaml", "gx.txt"];
    expect(got.map((c) => c.sort())).toEqual([
      ["--timeout"],
      ["--timeout"],
      ["summary-md"],
      ["bash", "zsh"],
      ["local", "slurm"],
      ["local"],
      ["=local", "=slurm"],
      files,
      ["--requeue-on-signal"],
      files,
      files,
    ]);
  });

  it("one-letter aliases are offered as typed (-o, not --o), with their long names", async () => {
    const [dash] = await bashCompletes([["slurm-render", "-"]]);
    expect(dash).toContain("-o");
    expect(dash).toContain("--out");
    expect(dash).toContain("-P");
    expect(dash).not.toContain("--o");
    expect(dash).not.toContain("--P");
  });

  it("every flag of every command's --help is offered, and nothing else", async () => {
    const got = await bashCompletes(COMMANDS.map((c) => [c, "-"]));
    for (const [i, command] of COMMANDS.entries()) {
      const help = await execa(bundle, [command, "--help"], { env: { ...env, NO_COLOR: "1" }, extendEnv: false });
      // The option lines of yargs' help: "  -P, --profile  text" or "      --account  text".
      const inOptions = String(help.stdout)
        .split("\n")
        .flatMap((line) => /^ {2}((?:-\w, )?--[\w-]+|-\w| {4}--[\w-]+) {2}/.exec(line)?.[1]?.trim().split(", ") ?? []);
      expect(inOptions.length, command).toBeGreaterThan(3);
      expect(new Set(got[i]), command).toEqual(new Set(inOptions));
    }
  });
});

describe("zsh", () => {
  const zpty = `
zmodload zsh/zpty || exit 9
zpty z 'zsh -f -i'
zpty -w z "PS1='> '; autoload -U compinit; compinit -u -D; source <(slurmpipe completion zsh)"
zpty -w z "show-buffer() { print -r -- ''; print -r -- \\"BUFFER<\\$BUFFER>\\" }; zle -N show-buffer; bindkey '^X' show-buffer; echo RE''ADY"
zpty -r z all '*READY*'
for typed in "$@"; do
  zpty -w -n z "$typed"$'\\t'
  zpty -w -n z $'\\C-x'
  zpty -r z all '*BUFFER<*>*'
  print -r -- "\${\${all##*BUFFER<}%%>*}"
  zpty -w -n z $'\\C-e\\C-u'
done
zpty -d z
`;

  it("TAB in an interactive zsh completes flags, choices, command names and files", async () => {
    const typed = ["slurm-poll --ti", "slurmpipe slurm-submit --backend l", "slurmpipe sum", "slurm-submit --backend=l", "sweep-gen gri", "slurmpipe completion z", "slurm-render --requeue-on"];
    const r = await execa("zsh", ["-f", "-c", zpty, "zsh", ...typed], { cwd: work, env, extendEnv: false, timeout: 60_000 });
    expect(String(r.stdout).split("\n")).toEqual([
      "slurm-poll --timeout ",
      "slurmpipe slurm-submit --backend local ",
      "slurmpipe summary-md ",
      "slurm-submit --backend=local ",
      "sweep-gen grid.yaml ",
      "slurmpipe completion zsh ",
      "slurm-render --requeue-on-signal ",
    ]);
  }, 90_000);
});

describe("slurmpipe completion", () => {
  it("without a known shell is a usage error naming the shells", async () => {
    const r = await execa(bundle, ["completion", "fish"], { env, extendEnv: false, reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("bash, zsh");
  });
});
