// Monaco models as LSP documents, synced by monaco-languageclient: a model
// of a `file:` URI is a document of the language client, which sends
// `didOpen`, incremental `didChange` and `didClose`, and applies the
// server's `workspace/applyEdit` to the models (one undo step per edit).
// One client per socket: after a reconnect the page starts a new one on the
// new socket, which opens the documents again.

import * as monaco from "@codingame/monaco-vscode-editor-api";
import { createModelReference, type IReference, type ITextFileEditorModel } from "@codingame/monaco-vscode-api/monaco";
import { MonacoLanguageClient } from "monaco-languageclient";
import { CloseAction, ErrorAction, State } from "vscode-languageclient/browser.js";
import { languageOf } from "./lsp.ts";
import type { Mux } from "./mux.ts";

export class Documents {
  /** Open documents by the URI the server gave (Monaco may spell a URI differently). */
  private readonly docs = new Map<string, IReference<ITextFileEditorModel>>();
  private client: MonacoLanguageClient | undefined;
  private mux: Mux | undefined;
  /** Called after an agent edit reached the models, with each document's key (its URI as `codelab/readFile` spelt it). */
  onAgentEdit: (uri: string) => void = () => {};

  /** Starts the language client on `mux` (a new socket's), disposing the previous one. */
  async connect(mux: Mux): Promise<void> {
    const old = this.client;
    this.client = undefined;
    if (old) await old.dispose(1000).catch(() => {});
    this.mux = mux;
    mux.onAppliedEdit = (uris) => {
      for (const uri of uris) {
        const key = this.keyOf(uri);
        if (key !== undefined) this.onAgentEdit(key);
      }
    };
    const client = new MonacoLanguageClient({
      name: "CodeLab",
      id: "codelab",
      clientOptions: {
        // Every file the page opens; the diff editor's models are `inmemory:`.
        documentSelector: [{ scheme: "file" }],
        // The socket's end is the client's: the page reconnects and starts a new one.
        errorHandler: {
          error: () => ({ action: ErrorAction.Continue }),
          closed: () => ({ action: CloseAction.DoNotRestart }),
        },
      },
      messageTransports: mux.side("editor"),
    });
    this.client = client;
    await client.start();
  }

  /** Whether the language client runs (for tests and the console). */
  running(): boolean {
    return this.client?.state === State.Running;
  }

  /**
   * Opens (or returns) the model of `uri` holding `text`; the language client
   * opens the document. The model is VS Code's text file model of the URI
   * (what its services expect of an editor's model), over the in-memory
   * file system of monaco-vscode-api: the page reads and writes the real
   * files through the server (`codelab/readFile`, `writeFile`).
   */
  async open(uri: string, path: string, text: string): Promise<monaco.editor.ITextModel> {
    const known = this.docs.get(uri);
    if (known) return known.object.textEditorModel!;
    const ref = (await createModelReference(monaco.Uri.parse(uri), text)) as IReference<ITextFileEditorModel>;
    const again = this.docs.get(uri);
    if (again) {
      ref.dispose();
      return again.object.textEditorModel!;
    }
    this.docs.set(uri, ref);
    const model = ref.object.textEditorModel!;
    monaco.editor.setModelLanguage(model, languageOf(path));
    return model;
  }

  /**
   * The page's key (the URI as `codelab/readFile` spelt it) of a document URI
   * as the language client spelt it (`Uri.toString()`, which may encode
   * differently), if it is open.
   */
  private keyOf(uri: string): string | undefined {
    if (this.docs.has(uri)) return uri;
    const spelt = monaco.Uri.parse(uri).toString();
    for (const [key, ref] of this.docs) if (ref.object.textEditorModel?.uri.toString() === spelt) return key;
    return undefined;
  }

  model(uri: string): monaco.editor.ITextModel | undefined {
    return this.docs.get(uri)?.object.textEditorModel ?? undefined;
  }

  private models(): monaco.editor.ITextModel[] {
    return [...this.docs.values()].flatMap((r) => (r.object.textEditorModel ? [r.object.textEditorModel] : []));
  }

  /**
   * Resolves once the server was sent every open model's current text (the
   * language client learns of changes asynchronously): before a chat message,
   * so the agent reads what the user sees.
   */
  async flush(): Promise<void> {
    const mux = this.mux;
    if (!mux || !this.running()) return;
    const sent = Promise.all(this.models().map((m) => mux.whenSent(m.uri.toString(), m.getVersionId())));
    // A bound, not a wait: should the client never sync a model, the message still goes.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        console.warn("codelab: the language client did not send every open document's last change within 5 s");
        resolve();
      }, 5000);
    });
    await Promise.race([sent, bound]);
    clearTimeout(timer);
  }

  /** The page saved `uri` (through `codelab/writeFile`, not the editor's file service). */
  saved(uri: string): void {
    const model = this.model(uri);
    if (model && this.running()) {
      void this.client!.sendNotification("textDocument/didSave", { textDocument: { uri: model.uri.toString() }, text: model.getValue() });
    }
  }

  close(uri: string): void {
    const ref = this.docs.get(uri);
    if (!ref) return;
    this.docs.delete(uri);
    // A buffer closed without saving: dropped (a dirty model outlives its references).
    void ref.object
      .revert()
      .catch(() => {})
      .finally(() => ref.dispose());
  }
}
