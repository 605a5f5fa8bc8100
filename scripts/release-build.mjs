#!/usr/bin/env node
// `pnpm release:build [DIR]` (default release/): builds packages/slurmpipe and writes both release
// artifacts into DIR:
//   slurmpipe-<version>-linux-x64.tar.gz  bin/slurmpipe (the single executable, node inside) and the
//                                         seven command names as symlinks to it; share/man/man1/*.1
//   slurmpipe-<version>.tgz               the npm package: `npm i -g ./slurmpipe-<version>.tgz`
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { COMMANDS } from "../packages/slurmpipe/build.mjs";

const root = resolve(import.meta.dirname, "..");
const pkgDir = join(root, "packages/slurmpipe");
const out = resolve(process.argv[2] ?? join(root, "release"));
const { version } = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));

execFileSync(process.execPath, ["build.mjs", "--sea"], { cwd: pkgDir, stdio: ["ignore", "ignore", "inherit"] });
rmSync(out, { recursive: true, force: true });
const name = `slurmpipe-${version}-linux-x64`;
const bin = join(out, name, "bin");
mkdirSync(bin, { recursive: true });
copyFileSync(join(pkgDir, "dist/slurmpipe-linux-x64"), join(bin, "slurmpipe"));
for (const command of COMMANDS) symlinkSync("slurmpipe", join(bin, command));
const man = join(out, name, "share/man/man1");
mkdirSync(man, { recursive: true });
for (const command of ["slurmpipe", ...COMMANDS]) copyFileSync(join(pkgDir, `dist/man/${command}.1`), join(man, `${command}.1`));
execFileSync("tar", ["-czf", `${name}.tar.gz`, name], { cwd: out });
rmSync(join(out, name), { recursive: true });
execFileSync("npm", ["pack", "--silent", "--pack-destination", out], { cwd: pkgDir, stdio: ["ignore", "ignore", "inherit"] });
process.stdout.write(`${join(out, `${name}.tar.gz`)}\n${join(out, `slurmpipe-${version}.tgz`)}\n`);
