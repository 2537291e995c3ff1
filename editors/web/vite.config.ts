// The web IDE's build. Deterministic: the same sources and lockfile give the
// same bytes (content-hashed names, no absolute paths, no build time), which
// tests/web.rs checks against the committed dist/.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  // The chat state and rendering are the VS Code extension's own modules
  // (editors/vscode/src/chat.ts, render.ts): their `marked` is this package's.
  // monaco-languageclient's stack (@codingame/monaco-vscode-api) replaces
  // `monaco-editor` with its own build of it: the Monarch grammars
  // (@codingame/monaco-vscode-standalone-languages) import `monaco-editor`,
  // which must be that one copy.
  resolve: {
    dedupe: ["marked", "@codingame/monaco-vscode-api", "@codingame/monaco-vscode-editor-api", "vscode"],
    alias: [
      { find: /^monaco-editor$/, replacement: "@codingame/monaco-vscode-editor-api" },
      // The wrapper's "extended" set-up only (see src/not-loaded.ts).
      {
        find: /^@codingame\/monaco-vscode-(textmate-service-override|theme-service-override|languages-service-override|views-service-override|workbench-service-override|theme-defaults-default-extension)$/,
        replacement: fileURLToPath(new URL("./src/not-loaded.ts", import.meta.url)),
      },
      // Only the editor's worker (see src/worker-factory.ts).
      { find: /^monaco-languageclient\/workerFactory$/, replacement: fileURLToPath(new URL("./src/worker-factory.ts", import.meta.url)) },
    ],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: false,
    // The editor stack (Monaco with VS Code's services) is one 7.5 MB chunk, loaded after the page.
    chunkSizeWarningLimit: 8192,
    assetsInlineLimit: 0,
  },
  worker: { format: "es" },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
} as any);
