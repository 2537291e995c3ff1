// LSP and Monaco positions, WorkspaceEdits, languages: pure helpers of
// documents.ts (unit-tested without a browser).

/** A Monaco range: 1-based lines and columns (UTF-16 code units, as LSP's utf-16). */
export interface MonacoRange {
  startLineNumber: number;
  startColumn: number;
  endLineNumber: number;
  endColumn: number;
}

export interface LspRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}
export interface LspTextEdit {
  range: LspRange;
  newText: string;
}

/** An LSP range as a Monaco range (1-based lines and columns). */
export function toMonacoRange(r: LspRange): MonacoRange {
  return {
    startLineNumber: r.start.line + 1,
    startColumn: r.start.character + 1,
    endLineNumber: r.end.line + 1,
    endColumn: r.end.character + 1,
  };
}

/** A Monaco content change as an LSP incremental change. */
export function toLspChange(c: { range: MonacoRange; text: string }): { range: LspRange; text: string } {
  return {
    range: {
      start: { line: c.range.startLineNumber - 1, character: c.range.startColumn - 1 },
      end: { line: c.range.endLineNumber - 1, character: c.range.endColumn - 1 },
    },
    text: c.text,
  };
}

/** The edits per document URI of a WorkspaceEdit (`documentChanges` or `changes`), with the expected version. */
export function editsOf(edit: any): { uri: string; version: number | null; edits: LspTextEdit[] }[] {
  const out: { uri: string; version: number | null; edits: LspTextEdit[] }[] = [];
  for (const dc of edit?.documentChanges ?? []) {
    if (dc && dc.textDocument && Array.isArray(dc.edits)) {
      out.push({ uri: dc.textDocument.uri, version: dc.textDocument.version ?? null, edits: dc.edits });
    }
  }
  for (const [uri, edits] of Object.entries(edit?.changes ?? {})) {
    out.push({ uri, version: null, edits: edits as LspTextEdit[] });
  }
  return out;
}

const LANGUAGES: Record<string, string> = {
  rs: "rust", ts: "typescript", tsx: "typescript", js: "javascript", mjs: "javascript",
  md: "markdown", py: "python", toml: "ini", html: "html", css: "css", sh: "shell", yml: "yaml", yaml: "yaml",
  go: "go", c: "cpp", h: "cpp", cpp: "cpp", java: "java",
};

/** The Monaco language of a path, by its extension. */
export function languageOf(path: string): string {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  return LANGUAGES[ext] ?? "plaintext";
}

