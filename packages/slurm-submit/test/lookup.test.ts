import { describe, expect, it } from "vitest";
import { nameFilters } from "../src/lookup.ts";

describe("name filters of the tag lookups", () => {
  it("lists names in --name, and looks for a name with a comma among all the user's jobs", () => {
    expect(nameFilters(["a.spx", "b.spy"])).toEqual([["--name=a.spx,b.spy"]]);
    // A ledger from before names lost their commas: `--name=lr0.1,wd0.spx` would ask for `lr0.1`
    // and `wd0.spx`, and the job would never be found.
    expect(nameFilters(["a.spx", "lr0.1,wd0.spy"])).toEqual([["--name=a.spx"], []]);
    expect(nameFilters(["lr0.1,wd0.spy"])).toEqual([[]]);
  });
});
