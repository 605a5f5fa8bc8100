/**
 * The `--remote HOST` grammar: an `~/.ssh/config` alias, `host`, `user@host` or `user@host:port`
 * (`[v6addr]:port` too). Anything else is refused before ssh sees it: above all a value starting
 * with `-`, which ssh would read as an option (`-oProxyCommand=...` runs a command locally).
 */
export class RemoteHostError extends Error {}

export interface RemoteHost {
  /** What ssh gets as its destination: `alias`, `host` or `user@host`. */
  destination: string;
  /** Given with `:port`; else ssh's own (config or 22). */
  port?: number;
  /** The spec as given, for messages and the control socket's name. */
  spec: string;
}

const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/;
const HOSTNAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const V6 = /^\[([0-9A-Fa-f:.]+)\]$/;

export function parseRemoteHost(spec: string): RemoteHost {
  const bad = (why: string) => new RemoteHostError(`--remote: ${why}; expected an ssh config alias, host, user@host or user@host:port, got ${JSON.stringify(spec)}`);
  if (spec.length === 0) throw bad("empty");
  if (spec.startsWith("-")) throw bad("a host cannot start with '-' (ssh would read it as an option)");
  let rest = spec;
  let user: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!USER.test(user)) throw bad(`bad user name ${JSON.stringify(user)}`);
  }
  let port: number | undefined;
  const portMatch = /^(.*):(\d{1,5})$/.exec(rest);
  if (portMatch && (!rest.includes("[") || rest.startsWith("["))) {
    const host = portMatch[1]!;
    if (!host.includes(":") || V6.test(host)) {
      port = Number(portMatch[2]);
      if (port < 1 || port > 65535) throw bad(`port ${port} out of range 1-65535`);
      rest = host;
    }
  }
  const v6 = V6.exec(rest);
  const host = v6 ? v6[1]! : rest;
  if (!v6 && !HOSTNAME.test(host)) throw bad(`bad host name ${JSON.stringify(host)}`);
  if (host.length === 0) throw bad("no host");
  const destination = user === undefined ? host : `${user}@${host}`;
  return { destination, spec, ...(port !== undefined ? { port } : {}) };
}
