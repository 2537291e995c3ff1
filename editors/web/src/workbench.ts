// Monaco and what needs it: the editor, the open documents, the tabs and the
// diff editor. Loaded by the page after its first paint (a dynamic import:
// Monaco is most of the page's script), so the chat connects and shows
// while the editor is still loading.

import * as monaco from "monaco-editor/editor/editor.api";
import "./monaco-features.ts";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";
import { Documents, type Sender } from "./documents.ts";
import { languageOf } from "./lsp.ts";
import { Tabs, type FileApi } from "./tabs.ts";

(self as any).MonacoEnvironment = { getWorker: () => new EditorWorker() };

export interface Elements {
  editor: HTMLElement;
  tabs: HTMLElement;
  diff: HTMLElement;
}

export function createWorkbench(el: Elements, conn: Sender, files: FileApi) {
  const editor = monaco.editor.create(el.editor, {
    automaticLayout: true,
    theme: "vs-dark",
    minimap: { enabled: false },
    fontSize: 13,
    model: null,
  });
  const docs = new Documents(conn);
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

  return { monaco, editor, docs, tabs, showDiff };
}

export type Workbench = ReturnType<typeof createWorkbench>;
