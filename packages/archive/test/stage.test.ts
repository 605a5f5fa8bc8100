import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { Transaction } from "../src/stage.ts";
import { cleanup, tempDir } from "./helpers.ts";
import { snapshot } from "./hostile.ts";

afterAll(cleanup);

/** Stages `files` (archive path -> content) in a new transaction under `root`. */
async function staged(root: string, files: Record<string, string>) {
  const tx = await Transaction.begin(root);
  const items = Object.entries(files).map(([rel, data]) => {
    const path = tx.stagedPath();
    writeFileSync(path, data);
    return { rel, staged: path };
  });
  return { tx, items };
}

test("a commit that fails halfway undoes its moves, puts replaced files back and removes the directories it made", async () => {
  const root = tempDir();
  writeFileSync(join(root, "a.txt"), "old a");
  mkdirSync(join(root, "z/late"), { recursive: true }); // a directory where the last file would go
  const before = await snapshot(root);
  const { tx, items } = await staged(root, { "a.txt": "new a", "new/dir/b.txt": "b", "z/late": "mine" });
  // --force replaces a.txt and places b.txt, then the third target is refused: all of it is undone.
  await expect(tx.commit(items, true)).rejects.toMatchObject({ rel: "z/late", problem: "unsafe_target" });
  await tx.abort();
  expect(await snapshot(root)).toEqual(before);
  expect(readFileSync(join(root, "a.txt"), "utf8")).toBe("old a");
});

test("with --force a commit replaces regular files; done() drops staging", async () => {
  const root = tempDir();
  writeFileSync(join(root, "a.txt"), "old a");
  const { tx, items } = await staged(root, { "a.txt": "new a", "d/b.txt": "b" });
  await tx.commit(items, true);
  await tx.done();
  expect(readFileSync(join(root, "a.txt"), "utf8")).toBe("new a");
  expect((await snapshot(root)).map((l) => l.split(" ")[0])).toEqual(["a.txt", "d/", "d/b.txt"]);
});

test("abort removes a --to it created, and the parents it created, but nothing that was there", async () => {
  const root = tempDir();
  const to = join(root, "x/y/to");
  const { tx } = await staged(to, { "a.txt": "a" });
  await tx.abort();
  expect(await snapshot(root)).toEqual([]);
});
