// Monaco and what needs it: VS Code's services for Monaco
// (@codingame/monaco-vscode-api, started by monaco-languageclient's
// MonacoVscodeApiWrapper), the language client, the editor, the open
// documents, the tabs and the diff editor. Loaded by the page after its load
// event (a dynamic import: this is most of the page's script), so the files,
// chat and dashboard show and work while the editor is still loading.

import * as monaco from "@codingame/monaco-vscode-editor-api";
import { MonacoVscodeApiWrapper } from "monaco-languageclient/vscodeApiWrapper";
import { useWorkerFactory } from "./worker-factory.ts";
import "./monaco-features.ts";
import { Documents } from "./documents.ts";
import { languageOf } from "./lsp.ts";
import type { Mux } from "./mux.ts";
import { Tabs, type FileApi } from "./tabs.ts";

export interface Elements {
  editor: HTMLElement;
  tabs: HTMLElement;
  diff: HTMLElement;
}

export async function createWorkbench(el: Elements, files: FileApi) {
  // The "classic" set-up: Monarch grammars and Monaco's own themes, no
  // TextMate, no extension host worker (the language client runs in the page).
  const api = new MonacoVscodeApiWrapper({
    $type: "classic",
    viewsConfig: { $type: "EditorService" },
    userConfiguration: { json: JSON.stringify({ "editor.wordBasedSuggestions": "off" }) },
    // Only the editor's worker: the others serve services this page does not load.
    monacoWorkerFactory: useWorkerFactory,
  });
  await api.start({ caller: "codelab-web" });

  const editor = monaco.editor.create(el.editor, {
    automaticLayout: true,
    theme: "vs-dark",
    minimap: { enabled: false },
    fontSize: 13,
    model: null,
  });
  const docs = new Documents();
  const tabs = new Tabs(el.tabs, editor, docs, files);
  docs.onAgentEdit = (uri: string) => tabs.agentEdited(uri);
  editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyS, () => void tabs.saveActive());

  let diffEditor: monaco.editor.IStandaloneDiffEditor | undefined;
  /** Shows `current` against `proposed` (the file at `path`, if any) in the diff editor. */
  function showDiff(current: string, proposed: string, path: string | undefined) {
    diffEditor ??= monaco.editor.createDiffEditor(el.diff, { automaticLayout: true, readOnly: true, theme: "vs-dark", renderSideBySide: true });
    const language = path ? languageOf(path) : "plaintext";
    const old = diffEditor.getModel();
    diffEditor.setModel({
      original: monaco.editor.createModel(current, language),
      modified: monaco.editor.createModel(proposed, language),
    });
    old?.original.dispose();
    old?.modified.dispose();
  }

  /** Starts the language client on a (new) socket. */
  const connect = (mux: Mux) => docs.connect(mux);

  return { monaco, editor, docs, tabs, showDiff, connect };
}

export type Workbench = Awaited<ReturnType<typeof createWorkbench>>;
