export * from "./host.ts";
export * from "./ssh.ts";
export * from "./upload.ts";
export * from "./fetch.ts";
