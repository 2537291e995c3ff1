import { describe, expect, it } from "vitest";
import { createMessageConnection } from "vscode-jsonrpc/browser";
import { editUris, Mux, sideOf } from "../src/mux.ts";

/** The frames a mux sent, with a wait for the one that matches. */
class Sent extends Array<any> {
  waiters: (() => void)[] = [];
  add(m: any) {
    this.push(m);
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A mux whose socket is a list of sent frames. */
function setup() {
  const sent = new Sent();
  const mux = new Mux((text) => sent.add(JSON.parse(text)));
  const page = createMessageConnection(mux.side("page").reader, mux.side("page").writer);
  const editor = createMessageConnection(mux.side("editor").reader, mux.side("editor").writer);
  page.listen();
  return { sent, mux, page, editor };
}

/** Resolves with the first sent frame that `pred` holds of (the connections write asynchronously). */
async function sentWhere(sent: Sent, pred: (m: any) => boolean): Promise<any> {
  for (;;) {
    const m = sent.find(pred);
    if (m) return m;
    await new Promise<void>((r) => sent.waiters.push(r));
  }
}

describe("mux", () => {
  it("routes by method: codelab/* to the page, the rest to the editor", () => {
    expect(sideOf("codelab/streamToken")).toBe("page");
    expect(sideOf("workspace/applyEdit")).toBe("editor");
    expect(sideOf("textDocument/publishDiagnostics")).toBe("editor");
  });

  it("gives both sides' requests distinct ids and answers each side with its own", async () => {
    const { sent, mux, page, editor } = setup();
    editor.listen();
    const a = page.sendRequest("codelab/listSessions", {});
    const b = editor.sendRequest("textDocument/hover", { position: { line: 0, character: 0 } });
    const ra = await sentWhere(sent, (m) => m.method === "codelab/listSessions");
    const rb = await sentWhere(sent, (m) => m.method === "textDocument/hover");
    expect(ra.id).not.toBe(rb.id);
    // Answered in the other order: each side gets its own answer.
    mux.receive(JSON.stringify({ jsonrpc: "2.0", id: rb.id, result: { contents: "hover" } }));
    mux.receive(JSON.stringify({ jsonrpc: "2.0", id: ra.id, result: { sessions: [] } }));
    expect(await a).toEqual({ sessions: [] });
    expect(await b).toEqual({ contents: "hover" });
  });

  it("answers the editor's handshake with the page's initialize result and keeps its lifecycle here", async () => {
    const { sent, mux, page, editor } = setup();
    editor.listen();
    const init = page.sendRequest("initialize", { capabilities: {} });
    const req = await sentWhere(sent, (m) => m.method === "initialize");
    // The editor asks before the server answered the page: it waits for that answer.
    const editorInit = editor.sendRequest("initialize", { capabilities: { fromEditor: true } });
    mux.receive(JSON.stringify({ jsonrpc: "2.0", id: req.id, result: { capabilities: { hoverProvider: true } } }));
    expect(await init).toEqual({ capabilities: { hoverProvider: true } });
    expect(await editorInit).toEqual({ capabilities: { hoverProvider: true } });
    await editor.sendNotification("initialized", {});
    expect(await editor.sendRequest("shutdown")).toBeNull();
    await editor.sendNotification("exit");
    await editor.sendNotification("textDocument/didOpen", { textDocument: { uri: "file:///a.rs", version: 1, text: "" } });
    await sentWhere(sent, (m) => m.method === "textDocument/didOpen");
    // One initialize went to the server, and none of the editor's lifecycle.
    expect([...sent].map((m) => m.method)).toEqual(["initialize", "textDocument/didOpen"]);
  });

  it("queues the server's editor requests until the language client listens, and reports applied edits", async () => {
    const { sent, mux, editor } = setup();
    const applied: string[][] = [];
    mux.onAppliedEdit = (uris) => applied.push(uris);
    const edit = { documentChanges: [{ textDocument: { uri: "file:///w/a%20b.rs", version: 3 }, edits: [] }] };
    mux.receive(JSON.stringify({ jsonrpc: "2.0", id: 7, method: "workspace/applyEdit", params: { edit } }));
    mux.receive(JSON.stringify({ jsonrpc: "2.0", id: 8, method: "workspace/applyEdit", params: { edit } }));
    let n = 0;
    editor.onRequest("workspace/applyEdit", () => ({ applied: n++ === 0 }));
    editor.listen();
    const r7 = await sentWhere(sent, (m) => m.id === 7);
    const r8 = await sentWhere(sent, (m) => m.id === 8);
    expect(r7.result).toEqual({ applied: true });
    expect(r8.result).toEqual({ applied: false });
    // Only the applied one, with the URI as the server spelt it.
    expect(applied).toEqual([["file:///w/a%20b.rs"]]);
  });

  it("delivers codelab notifications to the page only", async () => {
    const { mux, page, editor } = setup();
    const seen: string[] = [];
    let last!: () => void;
    const both = new Promise<void>((r) => (last = r));
    const note = (who: string) => (method: string) => {
      seen.push(`${who} ${method}`);
      if (method === "window/logMessage") last();
    };
    page.onNotification(note("page"));
    editor.onNotification(note("editor"));
    editor.listen();
    mux.receive(JSON.stringify({ jsonrpc: "2.0", method: "codelab/streamToken", params: {} }));
    mux.receive(JSON.stringify({ jsonrpc: "2.0", method: "textDocument/publishDiagnostics", params: { uri: "file:///a", diagnostics: [] } }));
    mux.receive("not json");
    mux.receive(JSON.stringify({ jsonrpc: "2.0", method: "window/logMessage", params: { type: 3, message: "m" } }));
    await both;
    expect(seen).toEqual(["page codelab/streamToken", "editor textDocument/publishDiagnostics", "editor window/logMessage"]);
  });

  it("tells when a document version reached the socket, and stops waiting when the socket closes", async () => {
    const { mux, editor } = setup();
    editor.listen();
    let done = false;
    const waiting = mux.whenSent("file:///a.rs", 2).then(() => (done = true));
    await editor.sendNotification("textDocument/didOpen", { textDocument: { uri: "file:///a.rs", version: 1, text: "" } });
    await new Promise((r) => setTimeout(r, 0));
    expect(done).toBe(false);
    await editor.sendNotification("textDocument/didChange", { textDocument: { uri: "file:///a.rs", version: 2 }, contentChanges: [] });
    await waiting;
    expect(mux.sentVersion("file:///a.rs")).toBe(2);
    const never = mux.whenSent("file:///b.rs", 1);
    let closed = false;
    mux.side("page").reader.onClose(() => (closed = true));
    mux.close();
    await never;
    expect(closed).toBe(true);
  });

  it("rewrites a cancellation to the id the server knows", async () => {
    const { sent, editor } = setup();
    editor.listen();
    const { CancellationTokenSource } = await import("vscode-jsonrpc/browser");
    const cts = new CancellationTokenSource();
    const p = editor.sendRequest("textDocument/hover", {}, cts.token).catch(() => "cancelled");
    const req = await sentWhere(sent, (m) => m.method === "textDocument/hover");
    cts.cancel();
    const cancel = await sentWhere(sent, (m) => m.method === "$/cancelRequest");
    expect(cancel.params.id).toBe(req.id);
    void p;
  });

  it("names the documents of both shapes of a WorkspaceEdit", () => {
    expect(editUris({ documentChanges: [{ textDocument: { uri: "file:///a" }, edits: [] }], changes: { "file:///b": [] } })).toEqual([
      "file:///a",
      "file:///b",
    ]);
    expect(editUris(undefined)).toEqual([]);
  });
});
