// The web IDE's build. Deterministic: the same sources and lockfile give the
// same bytes (content-hashed names, no absolute paths, no build time), which
// tests/web.rs checks against the committed dist/.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  // The chat state and rendering are the VS Code extension's own modules
  // (editors/vscode/src/chat.ts, render.ts): their `marked` is this package's.
  resolve: { dedupe: ["marked"] },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 4096,
    assetsInlineLimit: 0,
  },
  worker: { format: "es" },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
} as any);
