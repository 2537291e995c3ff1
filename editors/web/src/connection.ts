// One websocket to the server carrying LSP and the codelab protocol, one
// JSON-RPC message per frame, shared by the page (vscode-jsonrpc, here) and
// the editor's language client (./mux.ts splits it). After a drop it
// reconnects with backoff, initializes again and tells the page, which
// restarts its language client on the new socket (which opens the documents
// again) and re-attaches its session from the last seq it applied.

import { createMessageConnection, type MessageConnection } from "vscode-jsonrpc/browser";
import { Mux } from "./mux.ts";
import type { CodelabRequests } from "../../../protocol/codelab-protocol.ts";
import { tokenProtocol } from "./launch.ts";

export type ConnState = "connecting" | "open" | "closed";

export interface Handlers {
  notification(method: string, params: any): void;
  state(state: ConnState, detail?: string): void;
  /** The socket closed (before any reconnection). */
  closed?(): void;
  /** Initialized; `reconnected` after a drop. `mux` carries this socket's language client. */
  ready(reconnected: boolean, mux: Mux): Promise<void> | void;
}

/** The delay before the `attempt`-th reconnection (from 0): 250 ms doubling, at most 5 s. */
export function backoff(attempt: number): number {
  return Math.min(5000, 250 * 2 ** Math.min(attempt, 5));
}

export class Connection {
  private socket: WebSocket | undefined;
  private rpc: MessageConnection | undefined;
  private mux: Mux | undefined;
  private attempts = 0;
  private everReady = false;
  private readyWaiters: (() => void)[] = [];
  private isReady = false;
  /** The last `initialize` result's codelab capabilities. */
  capabilities: any;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly folder: string | undefined,
    private readonly handlers: Handlers,
  ) {}

  start(): void {
    this.open();
  }

  /** Closes the socket as a network failure would (tests and the "reconnect" button). */
  drop(): void {
    this.socket?.close();
  }

  /** Resolves once the connection is initialized. */
  whenReady(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  async request<M extends keyof CodelabRequests>(method: M, params: CodelabRequests[M][0]): Promise<CodelabRequests[M][1]> {
    await this.whenReady();
    const rpc = this.rpc;
    if (!rpc) throw new Error("not connected");
    return rpc.sendRequest(method, params) as Promise<CodelabRequests[M][1]>;
  }

  private open(): void {
    this.handlers.state("connecting");
    const socket = new WebSocket(this.url, [tokenProtocol(this.token)]);
    this.socket = socket;
    socket.onopen = () => {
      const mux = new Mux((text) => socket.send(text));
      socket.onmessage = (e) => {
        if (typeof e.data === "string") mux.receive(e.data);
      };
      this.mux = mux;
      const page = mux.side("page");
      const rpc = createMessageConnection(page.reader, page.writer);
      this.rpc = rpc;
      // Once this socket closed, what it still queued is ignored: the page
      // re-attaches from the last seq it applied, and the replay brings the rest.
      rpc.onNotification((method: string, params: any) => {
        if (this.rpc === rpc) this.handlers.notification(method, params);
      });
      rpc.listen();
      void this.initialize(rpc, mux);
    };
    socket.addEventListener("close", (e) => {
      if (this.socket !== socket) return;
      this.isReady = false;
      const rpc = this.rpc;
      this.rpc = undefined;
      this.mux?.close();
      this.mux = undefined;
      rpc?.dispose();
      this.handlers.closed?.();
      const detail = e.code === 1006 && !this.everReady ? "cannot connect (is the token right?)" : undefined;
      this.handlers.state("closed", detail);
      const delay = backoff(this.attempts++);
      setTimeout(() => this.open(), delay);
    });
  }

  private async initialize(rpc: MessageConnection, mux: Mux): Promise<void> {
    const folders = this.folder ? [{ uri: this.folder, name: this.folder.split("/").pop() || this.folder }] : null;
    try {
      const result: any = await rpc.sendRequest("initialize", {
        processId: null,
        clientInfo: { name: "codelab-web", version: "0.1.0" },
        rootUri: this.folder ?? null,
        workspaceFolders: folders,
        capabilities: {
          general: { positionEncodings: ["utf-16"] },
          // What the language client (which joins this session) handles.
          workspace: { applyEdit: true, workspaceEdit: { documentChanges: true } },
          textDocument: {
            synchronization: { didSave: true, dynamicRegistration: false },
            hover: { contentFormat: ["markdown", "plaintext"] },
            publishDiagnostics: {},
          },
          // The chat header shows the context used and the session's cost.
          experimental: { codelab: { contextUsage: true } },
        },
      });
      this.capabilities = result?.capabilities?.experimental?.codelab;
      await rpc.sendNotification("initialized", {});
    } catch (e) {
      this.handlers.state("closed", `initialize failed: ${e}`);
      return;
    }
    this.attempts = 0;
    const reconnected = this.everReady;
    this.everReady = true;
    this.isReady = true;
    this.handlers.state("open");
    await this.handlers.ready(reconnected, mux);
    const waiters = this.readyWaiters.splice(0);
    for (const w of waiters) w();
  }
}
