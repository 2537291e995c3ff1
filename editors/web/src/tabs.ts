// Open files as tabs over one Monaco editor: a model per file, a dirty mark
// while the buffer differs from what was last saved or read, save with the
// version it was based on (a conflicting change on disk is never silently
// overwritten).

import * as monaco from "@codingame/monaco-vscode-editor-api";
import type { FileChanged, ReadFileResult } from "../../../protocol/codelab-protocol.ts";
import type { Documents } from "./documents.ts";

export interface FileApi {
  read(path: string): Promise<ReadFileResult>;
  write(path: string, text: string, baseVersion: string | undefined): Promise<FileChanged>;
}

interface Tab {
  path: string;
  uri: string;
  model: monaco.editor.ITextModel;
  /** The version on disk this buffer is based on; undefined when an agent edit changed the disk. */
  baseVersion: string | undefined;
  /** The text known to be on disk (what `baseVersion` names, or an agent edit's result). */
  diskText: string;
  savedAlt: number;
  view?: monaco.editor.ICodeEditorViewState | null;
}

/** Whether the buffer differs from what is on disk. */
export function isDirty(savedAlt: number, alt: number): boolean {
  return savedAlt !== alt;
}

export class Tabs {
  private readonly tabs: Tab[] = [];
  private active: Tab | undefined;

  constructor(
    private readonly el: HTMLElement,
    private readonly editor: monaco.editor.IStandaloneCodeEditor,
    private readonly docs: Documents,
    private readonly files: FileApi,
  ) {
    editor.onDidChangeModelContent(() => this.render());
  }

  paths(): string[] {
    return this.tabs.map((t) => t.path);
  }

  activePath(): string | undefined {
    return this.active?.path;
  }

  async open(path: string): Promise<void> {
    let tab = this.tabs.find((t) => t.path === path);
    if (!tab) {
      const r = await this.files.read(path);
      const model = await this.docs.open(r.uri, r.path, r.text);
      tab = { path: r.path, uri: r.uri, model, baseVersion: r.version, diskText: r.text, savedAlt: model.getAlternativeVersionId() };
      tab.model.onDidChangeContent(() => this.render());
      this.tabs.push(tab);
    }
    this.activate(tab);
  }

  private activate(tab: Tab) {
    if (this.active) this.active.view = this.editor.saveViewState();
    this.active = tab;
    this.editor.setModel(tab.model);
    if (tab.view) this.editor.restoreViewState(tab.view);
    this.editor.focus();
    this.render();
  }

  close(path: string) {
    const i = this.tabs.findIndex((t) => t.path === path);
    if (i < 0) return;
    const [tab] = this.tabs.splice(i, 1);
    if (this.active === tab) {
      this.active = undefined;
      this.editor.setModel(null);
      const next = this.tabs[Math.min(i, this.tabs.length - 1)];
      if (next) this.activate(next);
    }
    this.docs.close(tab.uri);
    this.render();
  }

  /** An agent edit reached a model: the server writes it to disk when the buffer was clean. */
  agentEdited(uri: string) {
    const tab = this.tabs.find((t) => t.uri === uri);
    if (!tab) return;
    // The edit is one undo step on top of the buffer: if the buffer was
    // clean before it, the disk now holds the result.
    if (tab.model.getValue() !== tab.diskText) {
      const wasClean = this.wasCleanBeforeAgentEdit(tab);
      if (wasClean) {
        tab.diskText = tab.model.getValue();
        tab.baseVersion = undefined;
        tab.savedAlt = tab.model.getAlternativeVersionId();
      }
    }
    this.render();
  }

  /** Whether undoing the last step would give back the saved buffer. */
  private wasCleanBeforeAgentEdit(tab: Tab): boolean {
    // Monaco's alternative version id of the state before the agent's step
    // is not exposed; a clean buffer held exactly the disk text before it.
    return this.cleanTexts.get(tab.uri) === tab.diskText;
  }

  /** The text of each tab the last time it was clean (kept up to date by render). */
  private readonly cleanTexts = new Map<string, string>();

  async saveActive(): Promise<void> {
    const tab = this.active;
    if (!tab) return;
    const text = tab.model.getValue();
    const alt = tab.model.getAlternativeVersionId();
    let base = tab.baseVersion;
    // An agent edit changed the disk: its version is the disk's if the disk
    // still holds what we know; else the file changed since, a conflict.
    let conflict = false;
    if (base === undefined) {
      const now = await this.files.read(tab.path);
      if (now.text === tab.diskText) base = now.version;
      else conflict = true;
    }
    const overwrite = () => confirm(`${tab.path} changed on disk since it was opened. Overwrite it with your version?`);
    let r: FileChanged;
    try {
      if (conflict && !overwrite()) return;
      r = await this.files.write(tab.path, text, conflict ? undefined : base);
    } catch (e: any) {
      if (e?.data?.kind !== "fileConflict" && e?.code !== -33012) throw e;
      if (!overwrite()) return;
      r = await this.files.write(tab.path, text, undefined);
    }
    tab.baseVersion = r.version ?? undefined;
    tab.diskText = text;
    tab.savedAlt = alt;
    this.docs.saved(tab.uri);
    this.render();
  }

  render() {
    for (const t of this.tabs) {
      if (!isDirty(t.savedAlt, t.model.getAlternativeVersionId())) this.cleanTexts.set(t.uri, t.model.getValue());
    }
    this.el.replaceChildren(
      ...this.tabs.map((t) => {
        const b = document.createElement("div");
        const dirty = isDirty(t.savedAlt, t.model.getAlternativeVersionId());
        b.className = `tab${t === this.active ? " active" : ""}${dirty ? " dirty" : ""}`;
        b.dataset.path = t.path;
        b.title = t.path;
        const name = document.createElement("span");
        name.textContent = t.path.split("/").pop()!;
        name.onclick = () => this.activate(t);
        const x = document.createElement("button");
        x.className = "close";
        x.textContent = dirty ? "●" : "×";
        x.title = "Close";
        x.onclick = () => {
          if (!dirty || confirm(`Close ${t.path} without saving?`)) this.close(t.path);
        };
        b.append(name, x);
        return b;
      }),
    );
  }
}
