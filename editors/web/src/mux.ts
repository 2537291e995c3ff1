// One websocket, two JSON-RPC endpoints: the page's own (`codelab/*`: the
// chat, files, sessions) and the editor's language client
// (monaco-languageclient: document sync, `workspace/applyEdit`, hover, ...).
// The server sees one LSP client, as the invariant "agent edits go to the
// connection that sent the message" needs: the chat's `sendMessage` and the
// documents the agent reads and edits travel on the same socket.
//
// - Requests from each side get ids of this socket (the two sides both count
//   from 0); responses go back to the side that asked, with its own id.
// - From the server: `codelab/*` requests and notifications go to the page,
//   everything else (`workspace/applyEdit`, `textDocument/publishDiagnostics`,
//   ...) to the language client, queued until it listens: the editor stack
//   loads after the page's first paint.
// - The page's side makes the LSP handshake (`initialize`, `initialized`), so
//   the chat works before the editor has loaded; the language client joins
//   the initialized session: its `initialize` is answered here with the
//   server's result, its `initialized`, `shutdown` and `exit` stay here (a
//   reconnect disposes the client; the socket's end is the session's end).

import {
  AbstractMessageReader,
  AbstractMessageWriter,
  type DataCallback,
  type Disposable,
  type Message,
  type MessageReader,
  type MessageWriter,
} from "vscode-jsonrpc/browser";

type Id = number | string;
interface Rpc {
  jsonrpc: "2.0";
  id?: Id | null;
  method?: string;
  params?: any;
  result?: any;
  error?: any;
}

export type Side = "page" | "editor";

/** Which side a message from the server goes to, by its method. */
export function sideOf(method: string): Side {
  return method.startsWith("codelab/") ? "page" : "editor";
}

class Reader extends AbstractMessageReader implements MessageReader {
  private callback: DataCallback | undefined;
  private readonly queue: Message[] = [];
  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    for (const m of this.queue.splice(0)) callback(m);
    return { dispose: () => (this.callback = undefined) };
  }
  deliver(m: Message): void {
    if (this.callback) this.callback(m);
    else this.queue.push(m);
  }
  close(): void {
    this.fireClose();
  }
}

class Writer extends AbstractMessageWriter implements MessageWriter {
  constructor(private readonly out: (m: Rpc) => void) {
    super();
  }
  async write(m: Message): Promise<void> {
    this.out(m as Rpc);
  }
  end(): void {}
  close(): void {
    this.fireClose();
  }
}

/** One side's transports, as vscode-jsonrpc and vscode-languageclient take them. */
export interface Transports {
  reader: MessageReader;
  writer: MessageWriter;
}

export class Mux {
  private next = 1;
  /** This socket's request id → the side that asked, its id, the method. */
  private readonly pending = new Map<Id, { side: Side; id: Id; method: string }>();
  private readonly readers = { page: new Reader(), editor: new Reader() };
  private readonly writers: Record<Side, Writer>;
  private initializeResult: unknown;
  private initializeWaiters: ((r: unknown) => void)[] = [];
  private readonly versions = new Map<string, number>();
  private versionWaiters: (() => void)[] = [];
  private closed = false;
  /** Called when the editor applied a server's `workspace/applyEdit`, with the URIs it named (as the server spells them). */
  onAppliedEdit: (uris: string[]) => void = () => {};
  /** The server's edits being applied by the editor: its request id → the edit's URIs. */
  private readonly edits = new Map<Id, string[]>();

  constructor(private readonly send: (text: string) => void) {
    this.writers = { page: new Writer((m) => this.fromSide("page", m)), editor: new Writer((m) => this.fromSide("editor", m)) };
  }

  side(side: Side): Transports {
    return { reader: this.readers[side], writer: this.writers[side] };
  }

  /** The LSP version of `uri` last sent to the server (`didOpen`, `didChange`), if any. */
  sentVersion(uri: string): number | undefined {
    return this.versions.get(uri);
  }

  /** Resolves once version `version` of `uri` (or a later one) was sent, or the socket closed. */
  async whenSent(uri: string, version: number): Promise<void> {
    while (!this.closed && (this.versions.get(uri) ?? -1) < version) {
      await new Promise<void>((resolve) => this.versionWaiters.push(resolve));
    }
  }

  /** A frame from the server. */
  receive(text: string): void {
    let m: Rpc;
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (m.method === undefined) {
      // A response: to the side that asked, with its id.
      const p = m.id === undefined || m.id === null ? undefined : this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id!);
      if (p.method === "initialize" && p.side === "page" && m.result !== undefined) {
        this.initializeResult = m.result;
        for (const w of this.initializeWaiters.splice(0)) w(m.result);
      }
      this.readers[p.side].deliver({ ...m, id: p.id } as Message);
      return;
    }
    const side = sideOf(m.method);
    if (side === "editor" && m.method === "workspace/applyEdit" && m.id !== undefined && m.id !== null) {
      this.edits.set(m.id, editUris(m.params?.edit));
    }
    this.readers[side].deliver(m as Message);
  }

  /** The socket closed: both sides see their connection end. */
  close(): void {
    this.closed = true;
    for (const w of this.versionWaiters.splice(0)) w();
    for (const side of ["page", "editor"] as const) {
      this.readers[side].close();
      this.writers[side].close();
    }
  }

  private fromSide(side: Side, m: Rpc): void {
    if (this.closed) return;
    if (m.method !== undefined && m.id !== undefined && m.id !== null) {
      // A request.
      if (side === "editor" && m.method === "initialize") {
        const id = m.id;
        void this.initialized().then((result) => this.readers.editor.deliver({ jsonrpc: "2.0", id, result } as Message));
        return;
      }
      if (side === "editor" && m.method === "shutdown") {
        this.readers.editor.deliver({ jsonrpc: "2.0", id: m.id, result: null } as Message);
        return;
      }
      const id = this.next++;
      this.pending.set(id, { side, id: m.id, method: m.method });
      this.write({ ...m, id });
      return;
    }
    if (m.method !== undefined) {
      // A notification.
      if (side === "editor" && (m.method === "initialized" || m.method === "exit")) return;
      if (m.method === "$/cancelRequest") {
        const ours = [...this.pending].find(([, p]) => p.side === side && p.id === m.params?.id);
        if (!ours) return;
        this.write({ ...m, params: { ...m.params, id: ours[0] } });
        return;
      }
      this.write(m);
      if (m.method === "textDocument/didOpen" || m.method === "textDocument/didChange") {
        const doc = m.params?.textDocument;
        if (doc && typeof doc.uri === "string" && typeof doc.version === "number") {
          this.versions.set(doc.uri, doc.version);
          for (const w of this.versionWaiters.splice(0)) w();
        }
      } else if (m.method === "textDocument/didClose" && typeof m.params?.textDocument?.uri === "string") {
        this.versions.delete(m.params.textDocument.uri);
      }
      return;
    }
    // A response to a server's request.
    this.write(m);
    if (side === "editor" && m.id !== undefined && m.id !== null && this.edits.has(m.id)) {
      const uris = this.edits.get(m.id)!;
      this.edits.delete(m.id);
      if (m.result?.applied === true) this.onAppliedEdit(uris);
    }
  }

  private initialized(): Promise<unknown> {
    if (this.initializeResult !== undefined) return Promise.resolve(this.initializeResult);
    return new Promise((resolve) => this.initializeWaiters.push(resolve));
  }

  private write(m: Rpc): void {
    this.send(JSON.stringify(m));
  }
}

/** The document URIs a WorkspaceEdit changes (`documentChanges` or `changes`). */
export function editUris(edit: any): string[] {
  const out: string[] = [];
  for (const dc of edit?.documentChanges ?? []) {
    if (typeof dc?.textDocument?.uri === "string") out.push(dc.textDocument.uri);
  }
  for (const uri of Object.keys(edit?.changes ?? {})) out.push(uri);
  return out;
}
