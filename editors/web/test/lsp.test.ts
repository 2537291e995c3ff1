import { describe, expect, it } from "vitest";
import { languageOf } from "../src/lsp.ts";
import { backoff } from "../src/connection.ts";

describe("lsp", () => {
  it("names languages by extension", () => {
    expect(languageOf("src/lib.rs")).toBe("rust");
    expect(languageOf("README.MD")).toBe("markdown");
    expect(languageOf("Makefile")).toBe("plaintext");
  });

  it("backs off from 250 ms to 5 s", () => {
    expect([0, 1, 2, 3, 4, 5, 9].map(backoff)).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  });
});
