/**
 * execa, imported when a child process is first started: with its dependencies it is a quarter of
 * a command's bundled library (~240 KB), compiled and evaluated at every start even by the runs
 * that start none (log-parse over local logs, a cron tick: bench 8).
 */
let loading: Promise<typeof import("execa")> | undefined;

export async function loadExeca(): Promise<typeof import("execa")["execa"]> {
  loading ??= import("execa");
  return (await loading).execa;
}
