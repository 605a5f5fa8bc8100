export * from "./host.ts";
export * from "./ssh.ts";
