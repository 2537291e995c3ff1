// The CodeLab agent in VS Code: starts `codelab-agent --stdio` through
// vscode-languageclient and gives the chat (a webview view), the agent picker,
// approvals with native diffs, questions, sessions and editor context.

import * as vscode from "vscode";
import * as path from "node:path";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  State,
  type LanguageClientOptions,
  type ServerOptions,
  type StaticFeature,
} from "vscode-languageclient/node.js";
import type {
  AgentInfo,
  Approval,
  AttachSessionResult,
  CodelabNotifications,
  CompactSessionResult,
  ListCheckpointsResult,
  RestoreCheckpointResult,
  ListAgentsResult,
  ListSessionsResult,
  ListToolsResult,
  MessageContext,
  SaveDocumentsParams,
  SaveDocumentsResult,
  Session,
} from "../../../protocol/codelab-protocol.ts";
import { ChatModel, type ApprovalItem } from "./chat.ts";
import { renderItem, contextText, shortTokens, type ContextUsage } from "./render.ts";
import { validate } from "./validate.ts";
import { findExecutable } from "./server.ts";

const NOTIFICATIONS: (keyof CodelabNotifications)[] = [
  "codelab/message",
  "codelab/token",
  "codelab/toolCall",
  "codelab/commandOutput",
  "codelab/question",
  "codelab/approvalRequired",
  "codelab/approvalResolved",
  "codelab/agentSwitched",
  "codelab/turnCompleted",
  "codelab/contextUsage",
];
const LAST_SESSION = "codelab.lastSession";
const APPROVAL_SCHEME = "codelab-approval";

function llmSettings(): { llm: Record<string, string> } {
  const cfg = vscode.workspace.getConfiguration("codelab");
  const llm: Record<string, string> = {};
  const provider = cfg.get<string>("provider", "");
  const model = cfg.get<string>("model", "");
  if (provider) llm.provider = provider;
  if (model) llm.model = model;
  return { llm };
}

class Agent implements vscode.Disposable {
  client: LanguageClient | undefined;
  /** The last `codelab/contextUsage` of the shown session. */
  private context_: ContextUsage | undefined;
  chat: ChatModel | undefined;
  agents: AgentInfo[] = [];
  tools: ListToolsResult["tools"] = [];
  private readonly output: vscode.OutputChannel;
  private readonly status: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private view: vscode.WebviewView | undefined;
  private rendered = new Map<string, string>();
  private renderQueued = false;
  private restarts: number[] = [];
  private stopping = false;
  private clientState: vscode.Disposable | undefined;
  private readonly approvalDocs = new Map<string, string>();
  private readonly editDocs = new Map<string, Approval>();
  readonly sessionsChanged = new vscode.EventEmitter<void>();

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel("CodeLab Server");
    this.status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
    this.status.name = "CodeLab agent";
    this.status.command = "codelab.switchAgent";
    this.disposables.push(this.output, this.status, this.sessionsChanged);
    this.updateStatus();
    this.status.show();
  }

  dispose(): void {
    this.clientState?.dispose();
    for (const d of this.disposables) d.dispose();
  }

  showLog(): void {
    this.output.show(true);
  }

  // ---- the server ------------------------------------------------------

  async start(): Promise<boolean> {
    const cfg = vscode.workspace.getConfiguration("codelab");
    const command = cfg.get<string>("serverPath", "codelab-agent") || "codelab-agent";
    const args = cfg.get<string[]>("serverArgs", []);
    const resolved = findExecutable(command);
    if (!resolved) {
      const readme = "Open README";
      const settings = "Open Settings";
      void vscode.window
        .showErrorMessage(
          `CodeLab: the server \`${command}\` was not found. Install codelab-agent or set codelab.serverPath.`,
          readme,
          settings,
        )
        .then((choice) => {
          if (choice === readme) {
            void vscode.commands.executeCommand("markdown.showPreview", vscode.Uri.joinPath(this.context.extensionUri, "README.md"));
          } else if (choice === settings) {
            void vscode.commands.executeCommand("workbench.action.openSettings", "codelab.serverPath");
          }
        });
      this.output.appendLine(`server not found: ${command}`);
      return false;
    }
    const serverOptions: ServerOptions = { command: resolved, args: ["--stdio", ...args], options: { env: process.env } };
    const clientOptions: LanguageClientOptions = {
      // Every file is synchronized: the agent reads the editor's unsaved text.
      documentSelector: [{ scheme: "file" }],
      outputChannel: this.output,
      initializationOptions: llmSettings(),
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => {
          if (this.stopping) return { action: CloseAction.DoNotRestart, handled: true };
          const now = Date.now();
          this.restarts = this.restarts.filter((t) => now - t < 180_000);
          this.restarts.push(now);
          if (this.restarts.length > 5) {
            void vscode.window.showErrorMessage("CodeLab: the server stopped 5 times in 3 minutes; not restarting it. See the CodeLab Server output.", "Show Log").then((c) => {
              if (c) this.output.show();
            });
            return { action: CloseAction.DoNotRestart, handled: true };
          }
          void vscode.window.showWarningMessage("CodeLab: the server stopped unexpectedly; restarting it.");
          this.output.appendLine("server stopped unexpectedly; restarting");
          return { action: CloseAction.Restart, handled: true };
        },
      },
    };
    const client = new LanguageClient("codelab", "CodeLab", serverOptions, clientOptions);
    const saveFeature: StaticFeature = {
      fillClientCapabilities(caps) {
        caps.experimental = {
          ...(caps.experimental as object | undefined),
          codelab: { saveDocuments: true, contextUsage: true },
        };
      },
      initialize() {},
      getState() {
        return { kind: "static" };
      },
      clear() {},
    };
    client.registerFeature(saveFeature);
    client.onRequest("codelab/saveDocuments", (p: SaveDocumentsParams) => this.saveDocuments(p));
    for (const method of NOTIFICATIONS) {
      client.onNotification(method, (params: any) => this.notified(method, params));
    }
    this.clientState?.dispose();
    this.clientState = client.onDidChangeState((e) => {
      this.output.appendLine(`client state: ${State[e.oldState]} -> ${State[e.newState]}`);
      if (e.newState === State.Running && e.oldState !== State.Running) void this.connected();
      this.updateStatus();
    });
    this.client = client;
    this.stopping = false;
    try {
      await client.start();
    } catch (e) {
      this.output.appendLine(`cannot start the server: ${e}`);
      void vscode.window.showErrorMessage(`CodeLab: cannot start the server: ${e}`);
      return false;
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const c = this.client;
    this.client = undefined;
    if (c) await c.stop().catch(() => undefined);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** After a (re)start: agents, tools, and the current session attached again. */
  private async connected(): Promise<void> {
    try {
      const r = await this.request<ListAgentsResult>("codelab/listAgents", {});
      this.agents = r.agents;
      const t = await this.request<ListToolsResult>("codelab/listTools", {});
      this.tools = t.tools;
    } catch (e) {
      this.output.appendLine(`listing agents: ${e}`);
    }
    const id = this.chat?.sessionId ?? this.context.workspaceState.get<string>(LAST_SESSION);
    if (id) {
      try {
        await this.attach(id, this.chat?.sessionId === id);
      } catch (e) {
        this.output.appendLine(`cannot resume session ${id}: ${e}`);
        if (this.chat?.sessionId === id) this.chat = undefined;
        await this.context.workspaceState.update(LAST_SESSION, undefined);
      }
    }
    this.sessionsChanged.fire();
    this.refresh();
  }

  async request<R>(method: string, params: unknown): Promise<R> {
    const c = this.client;
    if (!c) throw new Error("the CodeLab server is not running");
    if (!c.isRunning()) await c.start();
    return c.sendRequest<R>(method, params);
  }

  private async saveDocuments(p: SaveDocumentsParams): Promise<SaveDocumentsResult> {
    const saved: string[] = [];
    const failed: { uri: string; reason: string }[] = [];
    for (const uri of p.uris) {
      const fsPath = vscode.Uri.parse(uri).fsPath;
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.scheme === "file" && d.uri.fsPath === fsPath);
      if (!doc) {
        failed.push({ uri, reason: "not open in VS Code" });
        continue;
      }
      try {
        const ok = await doc.save();
        if (ok && !doc.isDirty) saved.push(uri);
        else failed.push({ uri, reason: "VS Code did not save it" });
      } catch (e) {
        failed.push({ uri, reason: String(e) });
      }
    }
    return failed.length > 0 ? { saved, failed } : { saved };
  }

  private notified(method: string, params: any): void {
    if (method === "codelab/contextUsage") {
      if (params.sessionId === this.chat?.sessionId) {
        this.context_ = params as ContextUsage;
        this.updateStatus();
      }
      return;
    }
    const chat = this.chat;
    if (!chat || !chat.apply(method, params)) return;
    if (method === "codelab/approvalResolved") this.closeApprovalDocs(params.approvalId);
    if (method === "codelab/agentSwitched" || method === "codelab/turnCompleted" || method === "codelab/token") this.updateStatus();
    if (method === "codelab/turnCompleted" || method === "codelab/message") this.sessionsChanged.fire();
    this.refresh();
  }

  // ---- sessions ----------------------------------------------------------

  async attach(id: string, keep = false): Promise<void> {
    const chat = keep && this.chat?.sessionId === id ? this.chat : new ChatModel(id);
    if (!keep) {
      this.chat = chat;
      this.rendered.clear();
      this.post({ type: "reset" });
    }
    const r = await this.request<AttachSessionResult>("codelab/attachSession", { sessionId: id, afterSeq: keep ? chat.lastSeq : 0 });
    chat.attached(r);
    await this.context.workspaceState.update(LAST_SESSION, id);
    this.updateStatus();
    this.refresh();
  }

  async newSession(): Promise<ChatModel> {
    const previous = this.chat?.sessionId;
    const agent = vscode.workspace.getConfiguration("codelab").get<string>("defaultAgent", "orchestrator") || undefined;
    const s = await this.request<Session>("codelab/createSession", { agent });
    if (previous) void this.request("codelab/detachSession", { sessionId: previous }).catch(() => undefined);
    await this.attach(s.id);
    this.sessionsChanged.fire();
    return this.chat as ChatModel;
  }

  async send(text: string, context?: MessageContext): Promise<void> {
    if (!text.trim()) return;
    const chat = this.chat ?? (await this.newSession());
    const r = await this.request<{ turnId: string }>("codelab/sendMessage", {
      sessionId: chat.sessionId,
      text,
      context: context ?? this.editorContext(false),
    });
    chat.runningTurn = r.turnId;
    this.updateStatus();
    this.refresh();
  }

  async cancel(): Promise<void> {
    if (this.chat) await this.request("codelab/cancelTurn", { sessionId: this.chat.sessionId });
  }

  async switchAgent(slug?: string): Promise<void> {
    if (!slug) {
      if (this.agents.length === 0) this.agents = (await this.request<ListAgentsResult>("codelab/listAgents", {})).agents;
      const pick = await vscode.window.showQuickPick(
        this.agents.map((a) => ({ label: a.slug, description: a.name, detail: a.description })),
        { placeHolder: "The agent for this session" },
      );
      slug = pick?.label;
    }
    if (!slug) return;
    const chat = this.chat ?? (await this.newSession());
    const s = await this.request<Session>("codelab/switchAgent", { sessionId: chat.sessionId, agent: slug });
    chat.agent = s.agent;
    this.updateStatus();
    this.refresh();
  }

  async deleteSession(id: string): Promise<void> {
    await this.request("codelab/deleteSession", { sessionId: id });
    if (this.chat?.sessionId === id) {
      this.chat = undefined;
      this.rendered.clear();
      this.post({ type: "reset" });
      await this.context.workspaceState.update(LAST_SESSION, undefined);
      this.refresh();
    }
    this.sessionsChanged.fire();
  }

  // ---- context and checkpoints ----------------------------------------------

  /** `codelab/compactSession`: summarises the older turns now; says how many tokens it saved. */
  async compact(): Promise<void> {
    const chat = this.chat;
    if (!chat) {
      void vscode.window.showInformationMessage("CodeLab: no session to compact.");
      return;
    }
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "CodeLab: compacting the session's context…" },
      () => this.request<CompactSessionResult>("codelab/compactSession", { sessionId: chat.sessionId }),
    );
    const c = r.compaction;
    void vscode.window.showInformationMessage(
      c
        ? `CodeLab: context compacted: ${shortTokens(c.tokensBefore)} → ${shortTokens(c.tokensAfter)} tokens.`
        : "CodeLab: nothing to compact (the history is the latest turn only).",
    );
  }

  /**
   * The session's checkpoints in a quick pick (each turn that changed files,
   * with its diff stat, newest first); the chosen one is restored, with the
   * conversation truncated if asked. Files the user changed after the agent
   * are a modal question: overwrite them, or keep them.
   */
  async checkpoints(): Promise<void> {
    const chat = this.chat;
    if (!chat) {
      void vscode.window.showInformationMessage("CodeLab: no session.");
      return;
    }
    const { turns } = await this.request<ListCheckpointsResult>("codelab/listCheckpoints", { sessionId: chat.sessionId });
    if (turns.length === 0) {
      void vscode.window.showInformationMessage("CodeLab: no checkpoints: the agent changed no file in this session.");
      return;
    }
    const picked = await vscode.window.showQuickPick(
      turns
        .map((t, i) => ({
          label: `$(history) ${firstLine(chat.prompt(t.turnId) ?? `turn ${i + 1}`)}`,
          description: t.files.map((f) => `${f.path} +${f.added} -${f.removed}`).join(", "),
          detail: `Restore ${t.files.map((f) => `${f.path} (${f.status})`).join(", ")} as before this turn`,
          turnId: t.turnId,
        }))
        .reverse(),
      { placeHolder: "Restore the files as they were before a turn", matchOnDescription: true },
    );
    if (!picked) return;
    const FILES = "Restore the files";
    const BOTH = "Restore the files and truncate the conversation";
    const how = await vscode.window.showQuickPick(
      [
        { label: FILES, detail: "The conversation stays as it is." },
        { label: BOTH, detail: "This turn and every later one are hidden from the model (they stay in the history)." },
      ],
      { placeHolder: `Restore before "${picked.label.replace("$(history) ", "")}"` },
    );
    if (!how) return;
    const params = { sessionId: chat.sessionId, turnId: picked.turnId };
    let r = await this.request<RestoreCheckpointResult>("codelab/restoreCheckpoint", { ...params, truncateConversation: how.label === BOTH });
    const restored = [...r.restored];
    if (r.conflicts.length > 0) {
      const OVERWRITE = "Overwrite";
      const choice = await vscode.window.showWarningMessage(
        `Changed since the agent's edit: ${r.conflicts.join(", ")}. Overwrite these changes with the checkpoint?`,
        { modal: true, detail: "Cancel keeps your changes; every other file of the checkpoint was restored." },
        OVERWRITE,
      );
      if (choice === OVERWRITE) {
        r = await this.request<RestoreCheckpointResult>("codelab/restoreCheckpoint", { ...params, overwrite: true });
        for (const f of r.restored) if (!restored.includes(f)) restored.push(f);
      }
    }
    void vscode.window.showInformationMessage(
      restored.length > 0 ? `CodeLab: restored ${restored.join(", ")}.` : "CodeLab: nothing was restored.",
    );
  }

  // ---- approvals and questions --------------------------------------------

  private approval(id: string): ApprovalItem | undefined {
    const item = this.chat?.get(`p:${id}`);
    return item && item.kind === "approval" ? item : undefined;
  }

  async decide(id: string, decision: "approve" | "reject" | "edit", extra: Record<string, unknown> = {}): Promise<void> {
    try {
      await this.request("codelab/decideApproval", { approvalId: id, decision, ...extra });
    } catch (e: any) {
      void vscode.window.showErrorMessage(`CodeLab: ${e?.message ?? e}`);
      // The card's buttons were disabled by the click: show them again.
      this.rendered.delete(`p:${id}`);
      this.refresh();
      return;
    }
    this.closeApprovalDocs(id);
  }

  /** Opens an edit's proposal against the file as it is, without taking focus from the chat. */
  async showDiff(id: string): Promise<void> {
    const item = this.approval(id);
    if (!item) return;
    for (const f of item.approval.files ?? []) {
      const left = vscode.Uri.from({ scheme: APPROVAL_SCHEME, path: `/${id}/current/${f.path}` });
      const right = vscode.Uri.from({ scheme: APPROVAL_SCHEME, path: `/${id}/proposed/${f.path}` });
      this.approvalDocs.set(left.toString(), f.current);
      this.approvalDocs.set(right.toString(), f.proposed);
      await vscode.commands.executeCommand("vscode.diff", left, right, `${f.path} (proposed by ${item.approval.tool})`, {
        preview: true,
        preserveFocus: true,
      });
    }
  }

  provideApprovalDocument(uri: vscode.Uri): string {
    return this.approvalDocs.get(uri.toString()) ?? "";
  }

  private closeApprovalDocs(id: string): void {
    const tabs: vscode.Tab[] = [];
    for (const group of vscode.window.tabGroups.all) {
      for (const tab of group.tabs) {
        const input = tab.input;
        if (input instanceof vscode.TabInputTextDiff && input.modified.scheme === APPROVAL_SCHEME && input.modified.path.startsWith(`/${id}/`)) {
          tabs.push(tab);
        }
      }
    }
    if (tabs.length > 0) void vscode.window.tabGroups.close(tabs, true);
  }

  /** Opens the call's parameters as JSON; the editor's title button sends them. */
  async editApproval(id: string): Promise<void> {
    const item = this.approval(id);
    if (!item) return;
    const doc = await vscode.workspace.openTextDocument({ language: "json", content: JSON.stringify(item.approval.params, null, 2) });
    this.editDocs.set(doc.uri.toString(), item.approval);
    await vscode.window.showTextDocument(doc, { preview: false });
    void vscode.commands.executeCommand("setContext", "codelab.editingApproval", true);
    void vscode.window.showInformationMessage(`Edit the parameters of ${item.approval.tool}, then run "CodeLab: Send Edited Parameters".`);
  }

  async submitApprovalEdit(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const approval = editor && this.editDocs.get(editor.document.uri.toString());
    if (!editor || !approval) {
      void vscode.window.showErrorMessage("CodeLab: the active editor is not an approval's parameters.");
      return;
    }
    let params: unknown;
    try {
      params = JSON.parse(editor.document.getText());
    } catch (e) {
      void vscode.window.showErrorMessage(`CodeLab: invalid JSON: ${e}`);
      return;
    }
    const schema = this.tools.find((t) => t.name === approval.tool)?.parameters;
    const problems = schema ? validate(params, schema) : [];
    if (problems.length > 0) {
      void vscode.window.showErrorMessage(`CodeLab: the parameters do not match ${approval.tool}'s schema: ${problems.join("; ")}`);
      return;
    }
    await this.decide(approval.id, "edit", { params });
    this.editDocs.delete(editor.document.uri.toString());
    void vscode.commands.executeCommand("setContext", "codelab.editingApproval", this.editDocs.size > 0);
    await vscode.commands.executeCommand("workbench.action.revertAndCloseActiveEditor");
  }

  async answer(questionId: string, answer: string): Promise<void> {
    const chat = this.chat;
    try {
      if (!chat || !answer.trim()) return;
      await this.request("codelab/answerQuestion", { sessionId: chat.sessionId, questionId, answer });
      chat.answered(questionId, answer);
    } finally {
      // Answered, or not (empty, refused): the card is drawn again either way.
      this.rendered.delete(`q:${questionId}`);
      this.refresh();
    }
  }

  // ---- editor context ----------------------------------------------------

  editorContext(withSelection: boolean): MessageContext {
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const rel = (p: string) => (root && p.startsWith(root + path.sep) ? path.relative(root, p) : p);
    const openFiles = vscode.workspace.textDocuments.filter((d) => d.uri.scheme === "file").map((d) => rel(d.uri.fsPath));
    const ctx: MessageContext = { openFiles, diagnostics: [] };
    const editor = vscode.window.activeTextEditor;
    if (editor && editor.document.uri.scheme === "file") {
      ctx.activeFile = rel(editor.document.uri.fsPath);
      if (withSelection && !editor.selection.isEmpty) ctx.selection = editor.document.getText(editor.selection);
      const range = withSelection && !editor.selection.isEmpty ? editor.selection : undefined;
      for (const d of vscode.languages.getDiagnostics(editor.document.uri)) {
        if (range && !range.intersection(d.range)) continue;
        ctx.diagnostics.push(`${ctx.activeFile}:${d.range.start.line + 1}: ${d.message}`);
      }
    }
    return ctx;
  }

  // ---- the view ------------------------------------------------------------

  attachView(view: vscode.WebviewView): void {
    this.view = view;
    this.rendered.clear();
    view.onDidDispose(() => {
      if (this.view === view) this.view = undefined;
    });
    view.onDidChangeVisibility(() => {
      if (view.visible) {
        this.rendered.clear();
        this.refresh();
      }
    });
    view.webview.onDidReceiveMessage((m) => void this.fromView(m));
  }

  private async fromView(m: any): Promise<void> {
    try {
      switch (m.type) {
        case "ready":
          this.rendered.clear();
          this.refresh();
          break;
        case "send":
          await this.send(String(m.text ?? ""));
          break;
        case "cancel":
          await this.cancel();
          break;
        case "agent":
          await this.switchAgent(m.agent ? String(m.agent) : undefined);
          break;
        case "newSession":
          await this.newSession();
          break;
        case "action":
          switch (m.action) {
            case "approve":
              return this.decide(m.id, "approve");
            case "approveSession":
              return this.decide(m.id, "approve", { scope: "session" });
            case "reject":
              return this.decide(m.id, "reject", m.feedback ? { feedback: String(m.feedback) } : {});
            case "diff":
              return this.showDiff(m.id);
            case "edit":
              return this.editApproval(m.id);
            case "answer":
            case "answerText":
              return this.answer(m.id, String(m.answer ?? ""));
          }
      }
    } catch (e: any) {
      void vscode.window.showErrorMessage(`CodeLab: ${e?.message ?? e}`);
    }
  }

  private post(message: unknown): void {
    void this.view?.webview.postMessage(message);
  }

  /** Sends the items whose HTML changed (coalesced: many tokens, one update). */
  refresh(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    setTimeout(() => {
      this.renderQueued = false;
      this.render();
    }, 16);
  }

  private render(): void {
    if (!this.view) return;
    const chat = this.chat;
    const items = chat ? chat.list() : [];
    const order = items.map((i) => i.key);
    const changed: { key: string; html: string }[] = [];
    for (const item of items) {
      const html = renderItem(item, chat?.agent, chat);
      if (this.rendered.get(item.key) !== html) {
        this.rendered.set(item.key, html);
        changed.push({ key: item.key, html });
      }
    }
    this.post({
      type: "render",
      order,
      changed,
      status: {
        session: chat?.sessionId,
        title: chat?.title,
        agent: chat?.agent ?? vscode.workspace.getConfiguration("codelab").get("defaultAgent"),
        running: Boolean(chat?.runningTurn),
        connected: Boolean(this.client?.isRunning()),
        agents: this.agents.map((a) => a.slug),
      },
    });
  }

  /** The last context usage, if it is of session `id`. */
  private contextOf(id: string | undefined): ContextUsage | undefined {
    return this.context_ && (this.context_ as { sessionId?: string }).sessionId === id ? this.context_ : undefined;
  }

  updateStatus(): void {
    const chat = this.chat;
    const agent = chat?.agent ?? vscode.workspace.getConfiguration("codelab").get<string>("defaultAgent", "orchestrator");
    const running = Boolean(chat?.runningTurn);
    const connected = Boolean(this.client?.isRunning());
    const ctx = this.contextOf(chat?.sessionId);
    const used = ctx ? ` · ${contextText(ctx)}` : "";
    this.status.text = `${running ? "$(sync~spin)" : connected ? "$(hubot)" : "$(debug-disconnect)"} CodeLab: ${agent}${running ? " (working)" : ""}${used}`;
    this.status.tooltip = connected
      ? `CodeLab: ${agent}${running ? ", a turn is running" : ""}${used ? `; context used and the session's cost: ${used.slice(3)}` : ""}. Click to switch agent.`
      : "CodeLab: the server is not running";
  }

  html(webview: vscode.Webview): string {
    const nonce = Array.from({ length: 24 }, () => Math.floor(Math.random() * 36).toString(36)).join("");
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, "media", "chat.js"));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, "media", "chat.css"));
    return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0"><link rel="stylesheet" href="${style}"><title>CodeLab</title></head>
<body><header><select id="agent" title="Agent"></select><span id="state"></span><button id="new" class="secondary" title="New session">New</button></header>
<main id="log" aria-live="polite"></main>
<footer><textarea id="input" rows="3" placeholder="Ask the agent… (Ctrl+Enter sends)"></textarea>
<div class="row"><button id="send">Send</button><button id="cancel" class="secondary" disabled>Cancel</button></div></footer>
<script nonce="${nonce}" src="${script}"></script></body></html>`;
  }
}

function firstLine(s: string): string {
  const line = s.split("\n", 1)[0];
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

class SessionsTree implements vscode.TreeDataProvider<Session> {
  readonly onDidChangeTreeData: vscode.Event<void>;
  constructor(private readonly agent: Agent) {
    this.onDidChangeTreeData = agent.sessionsChanged.event;
  }
  getTreeItem(s: Session): vscode.TreeItem {
    const item = new vscode.TreeItem(s.title, vscode.TreeItemCollapsibleState.None);
    item.id = s.id;
    item.description = `${s.agent} · ${new Date(s.updatedAt).toLocaleString()}`;
    item.tooltip = `${s.title}\n${s.agent}, ${s.messageCount} messages, updated ${s.updatedAt}`;
    item.contextValue = "session";
    item.iconPath = new vscode.ThemeIcon(this.agent.chat?.sessionId === s.id ? "comment-discussion" : "comment");
    item.command = { command: "codelab.resumeSession", title: "Resume", arguments: [s] };
    return item;
  }
  async getChildren(): Promise<Session[]> {
    if (!this.agent.client?.isRunning()) return [];
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.toString();
    const r = await this.agent.request<ListSessionsResult>("codelab/listSessions", { limit: 100 });
    // This workspace's sessions (subtasks are reached from their parent's chat).
    const norm = (u: string | null | undefined) => (u ? vscode.Uri.parse(u).fsPath : undefined);
    return r.sessions.filter((s) => !s.parentSessionId && (!folder || !s.workspaceFolder || norm(s.workspaceFolder) === norm(folder)));
  }
}

function showError(e: unknown): void {
  void vscode.window.showErrorMessage(`CodeLab: ${(e as { message?: string })?.message ?? e}`);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const agent = new Agent(context);
  context.subscriptions.push(agent);
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(APPROVAL_SCHEME, { provideTextDocumentContent: (uri) => agent.provideApprovalDocument(uri) }),
    vscode.window.registerWebviewViewProvider(
      "codelab.chat",
      {
        resolveWebviewView(view) {
          view.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, "media")] };
          view.webview.html = agent.html(view.webview);
          agent.attachView(view);
        },
      },
      { webviewOptions: { retainContextWhenHidden: true } },
    ),
    vscode.window.registerTreeDataProvider("codelab.sessions", new SessionsTree(agent)),
    vscode.commands.registerCommand("codelab.openChat", () => vscode.commands.executeCommand("codelab.chat.focus")),
    vscode.commands.registerCommand("codelab.newSession", () => agent.newSession()),
    vscode.commands.registerCommand("codelab.cancelTurn", () => agent.cancel()),
    vscode.commands.registerCommand("codelab.switchAgent", (slug?: string) => agent.switchAgent(slug)),
    vscode.commands.registerCommand("codelab.refreshSessions", () => agent.sessionsChanged.fire()),
    vscode.commands.registerCommand("codelab.resumeSession", async (s: Session) => {
      await agent.attach(s.id);
      agent.sessionsChanged.fire();
      await vscode.commands.executeCommand("codelab.chat.focus");
    }),
    vscode.commands.registerCommand("codelab.deleteSession", async (s: Session) => {
      const ok = await vscode.window.showWarningMessage(`Delete the session "${s.title}" and its history?`, { modal: true }, "Delete");
      if (ok === "Delete") await agent.deleteSession(s.id);
    }),
    vscode.commands.registerCommand("codelab.askAboutSelection", async () => {
      const question = await vscode.window.showInputBox({ prompt: "Ask the agent about the selection" });
      if (question) await agent.send(question, agent.editorContext(true));
      await vscode.commands.executeCommand("codelab.chat.focus");
    }),
    vscode.commands.registerCommand("codelab.explainError", async (diagnostic?: vscode.Diagnostic) => {
      const ctx = agent.editorContext(true);
      const editor = vscode.window.activeTextEditor;
      const diag = diagnostic ?? (editor ? vscode.languages.getDiagnostics(editor.document.uri).find((d) => d.range.contains(editor.selection.active)) : undefined);
      if (diag && ctx.activeFile) ctx.diagnostics = [`${ctx.activeFile}:${diag.range.start.line + 1}: ${diag.message}`];
      await agent.send(diag ? `Explain this error and how to fix it: ${diag.message}` : "Explain the errors in this file and how to fix them.", ctx);
      await vscode.commands.executeCommand("codelab.chat.focus");
    }),
    vscode.commands.registerCommand("codelab.submitApprovalEdit", () => agent.submitApprovalEdit()),
    vscode.commands.registerCommand("codelab.restartServer", () => agent.restart()),
    vscode.commands.registerCommand("codelab.compactSession", () => agent.compact().catch(showError)),
    vscode.commands.registerCommand("codelab.checkpoints", () => agent.checkpoints().catch(showError)),
    vscode.commands.registerCommand("codelab.showLog", () => agent.showLog()),
    vscode.languages.registerCodeActionsProvider(
      { scheme: "file" },
      {
        provideCodeActions(_doc, range, ctx) {
          const actions: vscode.CodeAction[] = [];
          for (const d of ctx.diagnostics) {
            const a = new vscode.CodeAction(`Explain with CodeLab: ${d.message.slice(0, 60)}`, vscode.CodeActionKind.QuickFix);
            a.command = { command: "codelab.explainError", title: "Explain This Error", arguments: [d] };
            a.diagnostics = [d];
            actions.push(a);
          }
          if (!range.isEmpty) {
            const a = new vscode.CodeAction("Ask CodeLab about the selection", vscode.CodeActionKind.Empty);
            a.command = { command: "codelab.askAboutSelection", title: "Ask About Selection" };
            actions.push(a);
          }
          return actions;
        },
      },
    ),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("codelab.serverPath") || e.affectsConfiguration("codelab.serverArgs")) {
        void agent.restart();
      } else if (e.affectsConfiguration("codelab.provider") || e.affectsConfiguration("codelab.model")) {
        void agent.client?.sendNotification("workspace/didChangeConfiguration", { settings: llmSettings() });
      } else if (e.affectsConfiguration("codelab.defaultAgent")) {
        agent.updateStatus();
      }
    }),
  );
  await agent.start();
  context.subscriptions.push({ dispose: () => void agent.stop() });
}

export function deactivate(): void {}
