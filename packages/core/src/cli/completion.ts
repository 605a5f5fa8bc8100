import type { Argv } from "yargs";

/**
 * Shell completion from the same yargs option definitions `--help` prints, so the two cannot drift.
 * The shell scripts (`slurmpipe completion bash|zsh`) call `<command> --get-yargs-completions
 * WORDS...` on each TAB; runCommand answers through `completionReply` instead of running the
 * command. yargs has its own answer to that flag, but it offers every flag after a flag that takes
 * a value with no fixed choices (`--out <TAB>`), names one-letter aliases `--o`, and has no way
 * to say "complete a file name here": the reply below does all three.
 */
export const COMPLETION_FLAG = "--get-yargs-completions";

/** The shell the reply is for: zsh shows each flag with its description. */
export const COMPLETION_SHELL_ENV = "SLURMPIPE_COMPLETION_SHELL";

export interface FlagInfo {
  /** As typed: `--out`, `-o`. */
  names: string[];
  takesValue: boolean;
  choices: string[];
  description: string;
}

interface YargsOptions {
  key: Record<string, unknown>;
  alias: Record<string, string[]>;
  boolean: string[];
  count: string[];
  choices: Record<string, unknown[]>;
  hiddenOptions: string[];
}

interface WithDescriptions {
  getInternalMethods?: () => { getUsageInstance?: () => { getDescriptions?: () => Record<string, string | undefined> } };
}

/** The flags a configured parser accepts, one entry per option with all its names. */
export function flagsOf(parser: Argv): FlagInfo[] {
  // getOptions and getGroups are public yargs 17 methods its type declarations leave out.
  const introspect = parser as unknown as { getOptions: () => YargsOptions; getGroups: () => Record<string, string[]> };
  const o = introspect.getOptions();
  // Descriptions are not in getOptions(); the usage instance holds them (what --help prints).
  const described = (parser as unknown as WithDescriptions).getInternalMethods?.().getUsageInstance?.().getDescriptions?.() ?? {};
  // Positional arguments (sweep-gen's file) are options to yargs too, filed under this group.
  const positional = introspect.getGroups()["Positionals:"] ?? [];
  const hidden = new Set([...o.hiddenOptions, ...positional]);
  // yargs files an alias either way round (`alias("h", "help")` gives { h: ["help"] }, keyed by
  // the short name): each option is the set of names linked by any alias entry.
  const groupOf = new Map<string, Set<string>>();
  const join = (a: string, b: string) => {
    const ga = groupOf.get(a) ?? new Set([a]);
    const gb = groupOf.get(b) ?? new Set([b]);
    const merged = new Set([...ga, ...gb]);
    for (const n of merged) groupOf.set(n, merged);
  };
  for (const [name, aliases] of Object.entries(o.alias)) for (const a of aliases) join(name, a);
  const flags: FlagInfo[] = [];
  const seen = new Set<Set<string>>();
  for (const key of Object.keys(o.key)) {
    const group = groupOf.get(key) ?? new Set([key]);
    if (seen.has(group) || [...group].some((n) => hidden.has(n))) continue;
    seen.add(group);
    // Long names first, as --help lists them.
    const all = [...group].sort((a, b) => Number(a.length === 1) - Number(b.length === 1));
    const description = all.map((n) => described[n]).find((d) => d !== undefined) ?? "";
    flags.push({
      names: all.map((n) => (n.length === 1 ? `-${n}` : `--${n}`)),
      takesValue: !all.some((n) => o.boolean.includes(n) || o.count.includes(n)),
      choices: all.flatMap((n) => o.choices[n] ?? []).map(String),
      description: description.replace(/^__yargsString__:/, "").split("\n")[0]!,
    });
  }
  return flags;
}

/**
 * The reply to one TAB: the first line says what to complete, `words` (the lines after it) or
 * `files` (the shell completes a file name). `words` are the words after the command name, the
 * last one the word being completed (empty when the cursor follows a space).
 */
export function completionReply(flags: FlagInfo[], words: string[], shell: string | undefined): string {
  const byName = new Map(flags.flatMap((f) => f.names.map((n) => [n, f] as const)));
  const current = words.at(-1) ?? "";
  const value = valueBeingTyped(words);
  if (value) {
    const flag = byName.get(value.flag);
    if (flag?.takesValue) {
      if (flag.choices.length === 0) return "files\n";
      return `${["words", ...flag.choices.filter((c) => c.startsWith(value.typed)).map((c) => value.prefix + c)].join("\n")}\n`;
    }
  }
  if (!current.startsWith("-")) return "files\n";
  const zsh = shell === "zsh";
  const lines = ["words"];
  for (const f of flags) {
    for (const name of f.names) {
      if (!name.startsWith(current)) continue;
      // zsh's _describe reads NAME:DESCRIPTION; a colon inside the name would split it.
      lines.push(zsh && f.description ? `${name.replace(/:/g, "\\:")}:${f.description}` : name);
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * The flag whose value is being typed, in the three ways a shell hands it over: `--flag VALUE`;
 * `--flag=VALUE` as one word (zsh); and bash, which splits at `=` (COMP_WORDBREAKS) into
 * `--flag`, `=`, `VALUE`, or `--flag`, `=` right after the `=`, where the reply replaces the `=`
 * and so starts with one.
 */
function valueBeingTyped(words: string[]): { flag: string; typed: string; prefix: string } | undefined {
  const [current = "", previous, beforeThat] = [words.at(-1), words.at(-2), words.at(-3)];
  if (previous === "=" && beforeThat?.startsWith("-")) return { flag: beforeThat, typed: current, prefix: "" };
  if (current === "=" && previous?.startsWith("-")) return { flag: previous, typed: "", prefix: "=" };
  const eq = /^(--[^=]+)=(.*)$/.exec(current);
  if (eq) return { flag: eq[1]!, typed: eq[2]!, prefix: `${eq[1]}=` };
  if (previous?.startsWith("-")) return { flag: previous, typed: current, prefix: "" };
  return undefined;
}
