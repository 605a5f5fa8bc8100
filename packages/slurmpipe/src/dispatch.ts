// The one entry of the slurmpipe distribution: `slurmpipe <command> ARGS...`, or a command's own
// name (an npm bin link, or a symlink to the single executable) dispatching on argv[0]/argv[1].
// Each command's CLI module is loaded only when it is the one asked for, so `--help` of one
// command never compiles the other six.
import { basename } from "node:path";
import { SHELLS, type Shell, completionScript, dispatcherWords } from "./completion-scripts.ts";

export type Loaders = Record<string, () => Promise<{ main: () => Promise<unknown> }>>;

const USAGE_EXIT = 2;
// core's cli/completion.ts COMPLETION_FLAG; not imported, so this entry stays free of yargs.
const COMPLETION_FLAG = "--get-yargs-completions";

function usage(commands: string[]): string {
  return [
    "Usage: slurmpipe <command> [ARGS...]",
    "",
    "Commands (each also runs under its own name, e.g. `sweep-gen --help`):",
    ...commands.map((c) => `  ${c}`),
    "",
    "`slurmpipe <command> --help` prints that command's options and examples.",
    "`slurmpipe completion bash|zsh` prints a shell completion script: source <(slurmpipe completion bash)",
    "",
  ].join("\n");
}

/**
 * core's local backend starts its job runner as `<process.execPath> --input-type=module -e <source>
 * DIR IDS MAX`. Inside the single executable, process.execPath is slurmpipe itself and node's own
 * options are not parsed, so those arguments arrive here: the runner bundled into this file runs
 * instead, with the argv `node -e` would have given it.
 */
function runnerArgs(argv: string[]): string[] | undefined {
  const at = argv.indexOf("--input-type=module");
  if (at < 1 || at > 2 || argv[at + 1] !== "-e") return undefined;
  return argv.slice(at + 3);
}

export async function dispatch(loaders: Loaders, runner: () => Promise<unknown>): Promise<void> {
  const commands = Object.keys(loaders);
  const argv = process.argv;
  const jobRunner = runnerArgs(argv);
  if (jobRunner) {
    process.argv = [argv[0]!, ...jobRunner];
    await runner();
    return;
  }
  // argv0: a symlink to the single executable; argv[1]: an npm bin link to this script.
  const byName = [basename(process.argv0), basename(argv[1] ?? "")].find((n) => commands.includes(n));
  // In the single executable argv[1] is the executable again; as a script it is the script.
  const rest = argv.slice(2);
  const name = byName ?? rest.shift();
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage(commands));
    process.exitCode = name === undefined ? USAGE_EXIT : 0;
    return;
  }
  if (name === "completion") {
    const shell = rest[0] ?? basename(process.env.SHELL ?? "");
    if (!SHELLS.includes(shell as Shell) || rest.length > 1) {
      process.stderr.write(`slurmpipe: completion: give a shell, one of: ${SHELLS.join(", ")} (e.g. source <(slurmpipe completion bash))\n`);
      process.exitCode = USAGE_EXIT;
      return;
    }
    process.stdout.write(completionScript(shell as Shell, commands));
    return;
  }
  // A TAB after `slurmpipe`: the command name (or completion's shell) here; after a command name,
  // that command answers from its own options.
  if (name === COMPLETION_FLAG) {
    const words = dispatcherWords(commands, rest);
    if (words) {
      process.stdout.write(`words\n${words.map((w) => `${w}\n`).join("")}`);
      return;
    }
    const [command, ...after] = rest;
    if (command === undefined || !loaders[command]) {
      process.stdout.write("files\n");
      return;
    }
    process.argv = [argv[0]!, command, COMPLETION_FLAG, ...after];
    await loaders[command]!().then((m) => m.main());
    return;
  }
  if (name === "--version") {
    process.stdout.write(`${process.env.SLURMPIPE_VERSION}\n`);
    return;
  }
  const load = loaders[name];
  if (!load) {
    process.stderr.write(`slurmpipe: unknown command "${name}"; one of: ${commands.join(", ")}\n`);
    process.exitCode = USAGE_EXIT;
    return;
  }
  process.argv = [argv[0]!, name, ...rest];
  await (await load()).main();
}
