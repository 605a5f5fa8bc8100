export * from "./host.ts";
export * from "./ssh.ts";
export * from "./upload.ts";
export * from "./fetch.ts";
export * from "./tree.ts";
export * from "./tar.ts";
export * from "./copy.ts";
