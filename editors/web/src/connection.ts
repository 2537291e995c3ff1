// One websocket to the server carrying LSP and the codelab protocol, one
// JSON-RPC message per frame (vscode-jsonrpc over vscode-ws-jsonrpc's
// socket adapter). After a drop it reconnects with backoff, initializes
// again and tells the page, which re-opens its documents and re-attaches its
// session from the last seq it applied.

import { createMessageConnection, type MessageConnection } from "vscode-jsonrpc/browser";
import { toSocket, WebSocketMessageReader, WebSocketMessageWriter } from "vscode-ws-jsonrpc";
import type { CodelabRequests } from "../../../protocol/codelab-protocol.ts";
import { tokenProtocol } from "./launch.ts";

export type ConnState = "connecting" | "open" | "closed";

export interface Handlers {
  notification(method: string, params: any): void;
  /** A request from the server (`workspace/applyEdit`, ...). */
  request(method: string, params: any): Promise<unknown>;
  state(state: ConnState, detail?: string): void;
  /** The socket closed (before any reconnection). */
  closed?(): void;
  /** Initialized; `reconnected` after a drop. */
  ready(reconnected: boolean): Promise<void> | void;
}

/** The delay before the `attempt`-th reconnection (from 0): 250 ms doubling, at most 5 s. */
export function backoff(attempt: number): number {
  return Math.min(5000, 250 * 2 ** Math.min(attempt, 5));
}

export class Connection {
  private socket: WebSocket | undefined;
  private rpc: MessageConnection | undefined;
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

  /** Sends an LSP notification; dropped while disconnected (documents are re-opened on reconnect). */
  notify(method: string, params: unknown): void {
    if (this.isReady && this.rpc) void this.rpc.sendNotification(method, params);
  }

  private open(): void {
    this.handlers.state("connecting");
    const socket = new WebSocket(this.url, [tokenProtocol(this.token)]);
    this.socket = socket;
    socket.onopen = () => {
      const s = toSocket(socket);
      const rpc = createMessageConnection(new WebSocketMessageReader(s), new WebSocketMessageWriter(s));
      this.rpc = rpc;
      // Once this socket closed, what it still queued is ignored: the page
      // re-attaches from the last seq it applied, and the replay brings the rest.
      rpc.onNotification((method: string, params: any) => {
        if (this.rpc === rpc) this.handlers.notification(method, params);
      });
      rpc.onRequest((method: string, params: any) => {
        if (this.rpc !== rpc) throw new Error("connection closed");
        return this.handlers.request(method, params);
      });
      rpc.listen();
      void this.initialize(rpc);
    };
    // A listener, not `onclose`: the socket adapter sets the `on*` handlers.
    socket.addEventListener("close", (e) => {
      if (this.socket !== socket) return;
      this.isReady = false;
      const rpc = this.rpc;
      this.rpc = undefined;
      rpc?.dispose();
      this.handlers.closed?.();
      const detail = e.code === 1006 && !this.everReady ? "cannot connect (is the token right?)" : undefined;
      this.handlers.state("closed", detail);
      const delay = backoff(this.attempts++);
      setTimeout(() => this.open(), delay);
    });
  }

  private async initialize(rpc: MessageConnection): Promise<void> {
    const folders = this.folder ? [{ uri: this.folder, name: this.folder.split("/").pop() || this.folder }] : null;
    try {
      const result: any = await rpc.sendRequest("initialize", {
        processId: null,
        clientInfo: { name: "codelab-web", version: "0.1.0" },
        rootUri: this.folder ?? null,
        workspaceFolders: folders,
        capabilities: {
          general: { positionEncodings: ["utf-16"] },
          workspace: { applyEdit: true, workspaceEdit: { documentChanges: true } },
          textDocument: { synchronization: { didSave: true, dynamicRegistration: false } },
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
    await this.handlers.ready(reconnected);
    const waiters = this.readyWaiters.splice(0);
    for (const w of waiters) w();
  }
}
