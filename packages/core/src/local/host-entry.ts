/**
 * The local backend as a program of its own, for bare-box mode (`--backend local --remote HOST`):
 * sent to HOST on stdin (`node - <command> <args...>`, see on-host.ts) and run there, it answers
 * one sbatch / squeue / sacct / scancel / scontrol / sinfo command line exactly as the local backend
 * does on this machine, with HOST's job directory ($SLURMPIPE_LOCAL_DIR there, else
 * ~/.local/state/slurmpipe/local), HOST's cores and the environment of the ssh session on HOST.
 * sbatch starts the detached job runner on HOST as it does here (`node -e <text>`, own session, no
 * terminal, stdio closed), so the jobs outlive the ssh session, a dropped connection and the laptop.
 *
 * Bundled with everything it imports into one CommonJS script (host-source.ts); this module exports
 * nothing: evaluating it IS the program.
 */
import { hostname } from "node:os";
import { runLocalSlurm } from "./index.ts";

const MIN_NODE_MAJOR = 20;

async function main(): Promise<number> {
  const major = Number(process.versions.node.split(".")[0]);
  if (!(major >= MIN_NODE_MAJOR)) {
    process.stderr.write(`slurmpipe: node ${process.versions.node} on this host is too old for the local backend; it needs node >= ${MIN_NODE_MAJOR}\n`);
    return 127;
  }
  // argv: node - <command> <args...> (the program came on stdin: `-` is argv[1]).
  const [command, ...args] = process.argv.slice(2);
  if (!command) {
    process.stderr.write("slurmpipe: no local-backend command given\n");
    return 2;
  }
  const r = await runLocalSlurm(command, args);
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.exitCode;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`slurmpipe (local backend on ${hostname()}): ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
