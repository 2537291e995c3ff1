// Monaco models as LSP documents: `didOpen` when a file is opened,
// `didChange` (incremental, UTF-16 positions: Monaco's columns) for every
// edit, `didClose`; agent edits (`workspace/applyEdit`) land in the models
// as one undoable step. Monaco version ids are the LSP versions.

import * as monaco from "monaco-editor/editor/editor.api";
import { editsOf, languageOf, toLspChange, toMonacoRange, type LspTextEdit } from "./lsp.ts";

export interface Sender {
  notify(method: string, params: unknown): void;
}

export class Documents {
  /** Open documents by the URI the server gave (Monaco may spell a URI differently). */
  private readonly docs = new Map<string, { model: monaco.editor.ITextModel; sub: monaco.IDisposable }>();
  /** Called after an agent edit reached a model. */
  onAgentEdit: (uri: string) => void = () => {};

  constructor(private readonly conn: Sender) {}

  /** Opens (or returns) the model of `uri` holding `text`, and tells the server. */
  open(uri: string, path: string, text: string): monaco.editor.ITextModel {
    const known = this.docs.get(uri);
    if (known) return known.model;
    const model = monaco.editor.createModel(text, languageOf(path), monaco.Uri.parse(uri));
    const sub = model.onDidChangeContent((e) => {
      this.conn.notify("textDocument/didChange", {
        textDocument: { uri, version: model.getVersionId() },
        contentChanges: e.changes.map(toLspChange),
      });
    });
    this.docs.set(uri, { model, sub });
    this.didOpen(uri, model);
    return model;
  }

  model(uri: string): monaco.editor.ITextModel | undefined {
    return this.docs.get(uri)?.model;
  }

  private didOpen(uri: string, model: monaco.editor.ITextModel): void {
    this.conn.notify("textDocument/didOpen", {
      textDocument: { uri, languageId: model.getLanguageId(), version: model.getVersionId(), text: model.getValue() },
    });
  }

  /** After a reconnect: the new connection has no documents yet. */
  reopenAll(): void {
    for (const [uri, d] of this.docs) this.didOpen(uri, d.model);
  }

  saved(uri: string): void {
    const d = this.docs.get(uri);
    if (d) this.conn.notify("textDocument/didSave", { textDocument: { uri }, text: d.model.getValue() });
  }

  close(uri: string): void {
    const d = this.docs.get(uri);
    if (!d) return;
    d.sub.dispose();
    d.model.dispose();
    this.docs.delete(uri);
    this.conn.notify("textDocument/didClose", { textDocument: { uri } });
  }

  /** `workspace/applyEdit`: every document's edits as one undoable step, or nothing. */
  applyEdit(params: any): { applied: boolean; failureReason?: string } {
    const docs = editsOf(params?.edit);
    const targets: [monaco.editor.ITextModel, LspTextEdit[]][] = [];
    for (const d of docs) {
      const model = this.docs.get(d.uri)?.model;
      if (!model) return { applied: false, failureReason: `${d.uri} is not open` };
      if (d.version !== null && d.version !== model.getVersionId()) {
        return { applied: false, failureReason: `${d.uri} is at version ${model.getVersionId()}, not ${d.version}` };
      }
      targets.push([model, d.edits]);
    }
    for (const [model, edits] of targets) {
      model.pushStackElement();
      model.pushEditOperations(
        [],
        edits.map((e) => ({ range: toMonacoRange(e.range), text: e.newText, forceMoveMarkers: true })),
        () => null,
      );
      model.pushStackElement();
    }
    for (const d of docs) this.onAgentEdit(d.uri);
    return { applied: true };
  }
}
