import { describe, expect, it } from "vitest";
import { namingFlagsAsTyped } from "../src/cli/main.ts";

describe("namingFlagsAsTyped", () => {
  it("names a negated unknown flag as typed, once", () => {
    expect(namingFlagsAsTyped("Unknown arguments: such-flag, suchFlag", ["--no-such-flag"])).toBe("Unknown option: --no-such-flag");
  });
  it("names every unknown flag, with its value left off", () => {
    expect(namingFlagsAsTyped("Unknown arguments: bogus, other-flag, otherFlag", ["-v", "--bogus=1", "x", "--other-flag"])).toBe(
      "Unknown options: --bogus, --other-flag",
    );
  });
  it("leaves other messages, and unknown positionals, as yargs wrote them", () => {
    expect(namingFlagsAsTyped("Missing required argument: state", ["--x"])).toBe("Missing required argument: state");
    expect(namingFlagsAsTyped("Unknown argument: extra", ["extra"])).toBe("Unknown argument: extra");
  });
});
