import { describe, expect, it } from "vitest";
import { editsOf, languageOf, toLspChange, toMonacoRange } from "../src/lsp.ts";
import { backoff } from "../src/connection.ts";

describe("lsp", () => {
  it("converts ranges both ways", () => {
    const lsp = { start: { line: 0, character: 3 }, end: { line: 2, character: 0 } };
    const m = toMonacoRange(lsp);
    expect(m).toEqual({ startLineNumber: 1, startColumn: 4, endLineNumber: 3, endColumn: 1 });
    expect(toLspChange({ range: m, text: "x" })).toEqual({ range: lsp, text: "x" });
  });

  it("reads both shapes of a WorkspaceEdit", () => {
    const e = { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } }, newText: "y" };
    expect(
      editsOf({
        documentChanges: [{ textDocument: { uri: "file:///a.rs", version: 4 }, edits: [e] }],
        changes: { "file:///b.rs": [e] },
      }),
    ).toEqual([
      { uri: "file:///a.rs", version: 4, edits: [e] },
      { uri: "file:///b.rs", version: null, edits: [e] },
    ]);
    expect(editsOf(undefined)).toEqual([]);
  });

  it("names languages by extension", () => {
    expect(languageOf("src/lib.rs")).toBe("rust");
    expect(languageOf("README.MD")).toBe("markdown");
    expect(languageOf("Makefile")).toBe("plaintext");
  });

  it("backs off from 250 ms to 5 s", () => {
    expect([0, 1, 2, 3, 4, 5, 9].map(backoff)).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  });
});
