// Monaco's workers for this page: only the editor's (diffs, word ranges).
// Stands in for `monaco-languageclient/workerFactory` (vite.config.ts points
// it here): that module's default loaders name the extension host and
// TextMate workers, which Vite would then build and the binary embed
// (2 MB) though the classic set-up never starts them.

import editorWorkerUrl from "@codingame/monaco-vscode-editor-api/esm/vs/editor/editor.worker.js?worker&url";
import { getEnhancedMonacoEnvironment } from "monaco-languageclient/vscodeApiWrapper";

/** The worker URL of a Monaco worker label, if this page has it. */
export function workerUrl(label: string): string | undefined {
  return label === "editorWorkerService" ? editorWorkerUrl : undefined;
}

/** Installs the page's workers (the wrapper calls this when no factory is configured). */
export function useWorkerFactory(): void {
  Object.assign(getEnhancedMonacoEnvironment(), {
    getWorkerUrl: (_id: string, label: string) => workerUrl(label),
    getWorkerOptions: () => ({ type: "module" }),
  });
}
