/**
 * A small getopt for the Slurm command lines the local backend answers: `--opt=value`,
 * `--opt value`, `-o value`, `-ovalue`, and boolean flags. Unknown options are reported the way
 * the real tools do, so a command line that works locally also works on a cluster.
 */
export interface OptionSpec {
  /** Long names (without --) that take a value, with their short letters. */
  values: Record<string, string | undefined>;
  /** Long names that are flags, with their short letters. */
  flags: Record<string, string | undefined>;
}

export interface ParsedArgs {
  options: Map<string, string[]>;
  flags: Set<string>;
  positional: string[];
}

export class ArgError extends Error {}

export function parseArgs(argv: readonly string[], spec: OptionSpec, stopAtPositional = false): ParsedArgs {
  const options = new Map<string, string[]>();
  const flags = new Set<string>();
  const positional: string[] = [];
  const shortValue = new Map(Object.entries(spec.values).filter(([, s]) => s).map(([l, s]) => [s!, l]));
  const shortFlag = new Map(Object.entries(spec.flags).filter(([, s]) => s).map(([l, s]) => [s!, l]));
  const add = (name: string, value: string) => options.set(name, [...(options.get(name) ?? []), value]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (name in spec.values) {
        const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
        if (value === undefined) throw new ArgError(`option '--${name}' requires an argument`);
        add(name, value);
      } else if (name in spec.flags) {
        flags.add(name);
      } else {
        throw new ArgError(`unrecognized option '${arg}'`);
      }
    } else if (arg.startsWith("-") && arg.length > 1) {
      const letter = arg[1]!;
      const long = shortValue.get(letter);
      if (long) {
        const value = arg.length > 2 ? arg.slice(2) : argv[++i];
        if (value === undefined) throw new ArgError(`option requires an argument -- '${letter}'`);
        add(long, value);
      } else {
        // clustered flags: -hr
        for (const l of arg.slice(1)) {
          const f = shortFlag.get(l);
          if (!f) throw new ArgError(`invalid option -- '${l}'`);
          flags.add(f);
        }
      }
    } else {
      positional.push(arg);
      if (stopAtPositional) {
        positional.push(...argv.slice(i + 1));
        break;
      }
    }
  }
  return { options, flags, positional };
}

export function last(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  return v?.[v.length - 1];
}
