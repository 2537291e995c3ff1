// The Monaco language of a file (pure: unit-tested without a browser).

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
