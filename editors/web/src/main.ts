// The CodeLab web IDE: files, tabs and Monaco editors on the left, the chat
// on the right, over one websocket to `codelab-agent serve`. The chat's
// state and rendering are the VS Code extension's (editors/vscode/src).

import "./style.css";
import { ChatModel, type ApprovalItem } from "../../vscode/src/chat.ts";
import { renderItem, contextText, shortTokens } from "../../vscode/src/render.ts";
import type { AgentInfo, FileEntry, Session, TurnCheckpoint } from "../../../protocol/codelab-protocol.ts";
import { Connection, type ConnState } from "./connection.ts";
import { approvalFiles } from "./approval-files.ts";
import { takeLaunch, socketUrl } from "./launch.ts";
import type { Workbench } from "./workbench.ts";
import type { Mux } from "./mux.ts";
import { showDashboard } from "./dashboard.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const launch = takeLaunch(location, sessionStorage, history);
const stateEl = $("conn-state");
if (!launch.token) {
  stateEl.dataset.state = "closed";
  stateEl.textContent = "no token: open the URL `codelab-agent serve` printed (…/#token=…)";
  throw new Error("no token");
}

function setState(state: ConnState, detail?: string) {
  stateEl.dataset.state = state;
  stateEl.textContent = detail ?? (state === "open" ? "connected" : state === "connecting" ? "connecting…" : "disconnected, reconnecting…");
}

let session: Session | undefined;
let chat: ChatModel | undefined;
let agents: AgentInfo[] = [];
/** What the debug handle shows tests: each attach's afterSeq, in order. */
const attaches: { sessionId: string; afterSeq: number }[] = [];
/** The last seq shown at each socket close. */
const closedAt: number[] = [];

const conn: Connection = new Connection(socketUrl(location), launch.token, launch.folder, {
  notification(method, params) {
    if (!chat || !chat.apply(method, params)) return;
    renderChat();
    if (method === "codelab/approvalRequired") showApproval((params as any).approval.id);
    if (method === "codelab/approvalResolved" && openApproval === (params as any).approvalId) closeApproval();
    if (method === "codelab/turnCompleted" || method === "codelab/agentSwitched") void refreshSessions();
  },
  state: setState,
  closed() {
    // The last seq shown when the socket went: what the re-attach resumes from.
    closedAt.push(chat?.lastSeq ?? 0);
    socketMux = undefined;
  },
  async ready(_reconnected, mux) {
    // The editor's language client joins this socket (it opens the documents
    // again after a reconnect) before the session is re-attached.
    socketMux = mux;
    if (wb) await connectEditor(wb, mux);
    await loadAgents();
    await refreshSessions();
    if (session) await attach(session.id, true);
    else if (sessions.length > 0) await attach(sessions[0].id, false);
  },
});

// ---- editor and tabs: Monaco and its language client, loaded after the page's load event

let wb: Workbench | undefined;
/** The current socket's second endpoint, for the language client. */
let socketMux: Mux | undefined;
let editorMux: Mux | undefined;
let editorConnecting: Promise<void> = Promise.resolve();
/** Milliseconds from navigation to a running language client with the editor shown. */
let editorReadyAt: number | undefined;

/** Starts the language client on `mux` (once per socket; calls queue). */
function connectEditor(w: Workbench, mux: Mux): Promise<void> {
  editorConnecting = editorConnecting.then(async () => {
    if (editorMux === mux || socketMux !== mux) return;
    editorMux = mux;
    await w.connect(mux);
  });
  return editorConnecting;
}

const afterLoad = new Promise<void>((resolve) => {
  const later = () => setTimeout(resolve, 0);
  if (document.readyState === "complete") later();
  else window.addEventListener("load", later, { once: true });
});
const workbench: Promise<Workbench> = afterLoad
  .then(() => import("./workbench.ts"))
  .then(async (m) => {
    const w = await m.createWorkbench({ editor: $("editor"), tabs: $("tabs"), diff: $("diff-editor") }, {
      read: (path) => conn.request("codelab/readFile", { sessionId: session!.id, path }),
      write: (path, text, baseVersion) => conn.request("codelab/writeFile", { sessionId: session!.id, path, text, baseVersion }),
    });
    wb = w;
    if (socketMux) await connectEditor(w, socketMux);
    editorReadyAt = performance.now();
    return w;
  });
workbench.catch(showError);
window.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "s") {
    e.preventDefault();
    void wb?.tabs.saveActive();
  }
});

// ---- files -----------------------------------------------------------------

async function listDir(path: string, into: HTMLElement) {
  if (!session) return;
  const r = await conn.request("codelab/listFiles", { sessionId: session.id, path });
  into.replaceChildren(...r.entries.map(fileNode));
}

function fileNode(e: FileEntry): HTMLElement {
  const li = document.createElement("li");
  const label = document.createElement("span");
  label.className = `entry ${e.kind}${e.ignored ? " ignored" : ""}${e.protected ? " protected" : ""}`;
  label.textContent = (e.kind === "directory" ? "▸ " : "") + e.name;
  label.dataset.path = e.path;
  label.title = e.path + (e.ignored ? " (hidden from the agents)" : "") + (e.protected ? " (agents need approval)" : "");
  li.append(label);
  if (e.kind === "directory") {
    const children = document.createElement("ul");
    li.append(children);
    label.onclick = async () => {
      if (li.classList.toggle("open")) await listDir(e.path, children);
      else children.replaceChildren();
      label.textContent = (li.classList.contains("open") ? "▾ " : "▸ ") + e.name;
    };
  } else if (e.kind === "file") {
    label.onclick = () => void workbench.then((w) => w.tabs.open(e.path)).catch(showError);
  }
  return li;
}

$("refresh-files").onclick = () => void listDir("", $("files"));
$("new-file").onclick = async () => {
  const path = session && prompt("New file (a path in the workspace; end it with / for a folder):");
  if (!path || !session) return;
  const dir = path.endsWith("/");
  try {
    await conn.request("codelab/createFile", { sessionId: session.id, path: path.replace(/\/+$/, ""), kind: dir ? "directory" : "file" });
    await listDir("", $("files"));
    if (!dir) await (await workbench).tabs.open(path);
  } catch (e) {
    showError(e);
  }
};
// Rename or delete: right-click an entry.
$("files").oncontextmenu = async (e) => {
  const label = (e.target as HTMLElement).closest<HTMLElement>(".entry");
  if (!label || !session) return;
  e.preventDefault();
  const from = label.dataset.path!;
  const to = prompt(`Rename ${from} to (empty: delete it):`, from);
  if (to === null || to === from) return;
  try {
    if (to === "") {
      if (!confirm(`Delete ${from}?`)) return;
      wb?.tabs.close(from);
      await conn.request("codelab/deleteFile", { sessionId: session.id, path: from });
    } else {
      wb?.tabs.close(from);
      await conn.request("codelab/renameFile", { sessionId: session.id, from, to });
    }
    await listDir("", $("files"));
  } catch (err) {
    showError(err);
  }
};

// ---- sessions and agents ---------------------------------------------------

let sessions: Session[] = [];

async function refreshSessions() {
  sessions = (await conn.request("codelab/listSessions", { limit: 50 })).sessions.filter((s: Session) => !s.parentSessionId);
  const ul = $("sessions");
  ul.replaceChildren(
    ...sessions.map((s) => {
      const li = document.createElement("li");
      li.textContent = s.title;
      li.title = `${s.workspaceFolder ?? "no folder"} · ${s.agent} · ${s.messageCount} messages`;
      li.dataset.session = s.id;
      if (session?.id === s.id) li.className = "active";
      li.onclick = () => void attach(s.id, false).catch(showError);
      return li;
    }),
  );
}

async function loadAgents() {
  agents = (await conn.request("codelab/listAgents", { workspaceFolder: launch.folder })).agents;
  const select = $<HTMLSelectElement>("agent");
  select.replaceChildren(
    ...agents.map((a) => {
      const o = document.createElement("option");
      o.value = a.slug;
      o.textContent = a.name;
      o.title = a.description;
      return o;
    }),
  );
  if (chat?.agent) select.value = chat.agent;
}

$<HTMLSelectElement>("agent").onchange = async (e) => {
  const agent = (e.target as HTMLSelectElement).value;
  if (session) await conn.request("codelab/switchAgent", { sessionId: session.id, agent }).catch(showError);
};

async function newSession() {
  const agent = $<HTMLSelectElement>("agent").value || undefined;
  const s = await conn.request("codelab/createSession", { workspaceFolder: launch.folder, agent, title: "New session" });
  await refreshSessions();
  await attach(s.id, false);
  return s;
}
$("new-session").onclick = () => void newSession().catch(showError);

/** Attaches to a session: `resume` keeps what is shown and replays from its last seq. */
async function attach(id: string, resume: boolean) {
  const keep = resume && chat?.sessionId === id;
  if (!keep) {
    chat = new ChatModel(id);
    rendered.clear();
    $("messages").replaceChildren();
    closeApproval();
  }
  const afterSeq = keep ? chat!.lastSeq : 0;
  attaches.push({ sessionId: id, afterSeq });
  const r = await conn.request("codelab/attachSession", { sessionId: id, afterSeq });
  const changed = session?.id !== id;
  session = r.session;
  chat!.attached(r);
  $("chat-title").textContent = r.session.title;
  if (chat!.agent) $<HTMLSelectElement>("agent").value = chat!.agent;
  renderChat();
  for (const li of $("sessions").children) li.classList.toggle("active", (li as HTMLElement).dataset.session === id);
  if (changed) await listDir("", $("files"));
  const pending = chat!.pendingApprovals();
  if (pending.length > 0 && !openApproval) showApproval(pending[pending.length - 1].approval.id);
}

// ---- chat ------------------------------------------------------------------

const rendered = new Map<string, string>();

function renderChat() {
  if (!chat) return;
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const items = chat.list();
  const wanted = new Set(items.map((i) => i.key));
  for (const el of [...box.children] as HTMLElement[]) {
    if (!wanted.has(el.dataset.key!)) {
      el.remove();
      rendered.delete(el.dataset.key!);
    }
  }
  let prev: Element | null = null;
  for (const item of items) {
    const html = renderItem(item, chat.agent, chat);
    let el = box.querySelector<HTMLElement>(`:scope > [data-key="${CSS.escape(item.key)}"]`);
    if (!el) {
      el = document.createElement("div");
      el.dataset.key = item.key;
    }
    if (rendered.get(item.key) !== html) {
      el.innerHTML = html;
      rendered.set(item.key, html);
    }
    const expected: Element | null = prev ? prev.nextElementSibling : box.firstElementChild;
    if (expected !== el) box.insertBefore(el, expected);
    prev = el;
  }
  $<HTMLButtonElement>("cancel").disabled = !chat.runningTurn;
  $("context-usage").textContent = chat.usage ? contextText(chat.usage) : "";
  if (atBottom) box.scrollTop = box.scrollHeight;
}

$("composer").onsubmit = async (e) => {
  e.preventDefault();
  const input = $<HTMLTextAreaElement>("input");
  const text = input.value.trim();
  if (!text) return;
  try {
    if (!session) await newSession();
    const active = wb?.tabs.activePath();
    // The agent reads what the editor shows: its last changes are on the socket first.
    await wb?.docs.flush();
    await conn.request("codelab/sendMessage", {
      sessionId: session!.id,
      text,
      context: { openFiles: wb?.tabs.paths() ?? [], activeFile: active, diagnostics: [] },
    });
    input.value = "";
  } catch (err) {
    showError(err);
  }
};
$("input").onkeydown = (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $<HTMLFormElement>("composer").requestSubmit();
  }
};
$("cancel").onclick = () => session && void conn.request("codelab/cancelTurn", { sessionId: session.id }).catch(showError);

$("messages").onclick = async (e) => {
  const btn = (e.target as HTMLElement).closest<HTMLElement>("button[data-action]");
  if (!btn || !chat) return;
  const id = btn.dataset.id!;
  switch (btn.dataset.action) {
    case "approve":
      return decide(id, "approve");
    case "approveSession":
      return decide(id, "approve", { scope: "session" });
    case "reject": {
      const fb = document.querySelector<HTMLInputElement>(`input[data-feedback-for="${CSS.escape(id)}"]`)?.value;
      return decide(id, "reject", fb ? { feedback: fb } : {});
    }
    case "diff":
      return showApproval(id, true, Number(btn.dataset.file ?? 0));
    case "edit":
      return editParams(id);
    case "answer":
      return answer(id, btn.dataset.answer!);
    case "answerText": {
      const v = document.querySelector<HTMLInputElement>(`input[data-answer-for="${CSS.escape(id)}"]`)?.value ?? "";
      return answer(id, v);
    }
  }
};

async function answer(questionId: string, text: string) {
  if (!session || !chat) return;
  await conn.request("codelab/answerQuestion", { sessionId: session.id, questionId, answer: text }).catch(showError);
  chat.answered(questionId, text);
  renderChat();
}

async function decide(approvalId: string, decision: "approve" | "reject" | "edit", extra: Record<string, unknown> = {}) {
  try {
    await conn.request("codelab/decideApproval", { approvalId, decision, ...extra } as any);
    if (openApproval === approvalId) closeApproval();
  } catch (e) {
    showError(e);
  }
}

// ---- approvals: Monaco's diff editor ---------------------------------------

let openApproval: string | undefined;

function approvalItem(id: string): ApprovalItem | undefined {
  const item = chat?.get(`p:${id}`);
  return item && item.kind === "approval" ? item : undefined;
}

/**
 * Shows a pending edit's proposal against the files as they are: one tab per
 * file above the diff editor (an edit may touch several), `file` shown first.
 */
function showApproval(id: string, force = false, file = 0) {
  const item = approvalItem(id);
  if (!item || item.state !== "pending") return;
  const files = approvalFiles(item.approval);
  if (files.length === 0 && !force) return;
  openApproval = id;
  $("diff-title").textContent = `${item.approval.tool}: ${files.map((x) => x.path).join(", ") || "no file"} — ${item.approval.rule}`;
  $("diff-panel").hidden = false;
  $("diff-panel").dataset.approval = id;
  const tabs = $("diff-files");
  const show = (i: number) => {
    const f = files[i];
    for (const b of tabs.children) b.classList.toggle("active", (b as HTMLElement).dataset.file === String(i));
    const current = f?.current ?? "";
    const proposed = f?.proposed ?? JSON.stringify(item.approval.params, null, 2);
    void workbench.then((w) => {
      if (openApproval === id) w.showDiff(current, proposed, f?.path);
    });
  };
  tabs.replaceChildren(
    ...(files.length > 1
      ? files.map((f, i) => {
          const b = document.createElement("button");
          b.className = "diff-file";
          b.dataset.file = String(i);
          b.textContent = f.path;
          b.title = `${f.path}: the file as it is (left) and as the edit leaves it (right)`;
          b.onclick = () => show(i);
          return b;
        })
      : []),
  );
  show(Math.min(file, Math.max(files.length - 1, 0)));
}

function closeApproval() {
  openApproval = undefined;
  $("diff-panel").hidden = true;
  $("params-panel").hidden = true;
}

$("diff-actions").onclick = (e) => {
  const btn = (e.target as HTMLElement).closest<HTMLElement>("button[data-diff-action]");
  if (!btn || !openApproval) return;
  const id = openApproval;
  switch (btn.dataset.diffAction) {
    case "approve":
      return void decide(id, "approve");
    case "approveSession":
      return void decide(id, "approve", { scope: "session" });
    case "reject": {
      const fb = $<HTMLInputElement>("diff-feedback").value;
      $<HTMLInputElement>("diff-feedback").value = "";
      return void decide(id, "reject", fb ? { feedback: fb } : {});
    }
    case "edit":
      return editParams(id);
    case "close":
      return closeApproval();
  }
};

/** Lets the user change the call's parameters, then approves the edited call. */
function editParams(id: string) {
  const item = approvalItem(id);
  if (!item) return;
  openApproval = id;
  $<HTMLTextAreaElement>("params-text").value = JSON.stringify(item.approval.params, null, 2);
  $("params-panel").hidden = false;
}
$("params-send").onclick = () => {
  if (!openApproval) return;
  let params: unknown;
  try {
    params = JSON.parse($<HTMLTextAreaElement>("params-text").value);
  } catch (e) {
    return showError(`the parameters are not valid JSON: ${e}`);
  }
  void decide(openApproval, "edit", { params });
};
$("params-cancel").onclick = () => ($("params-panel").hidden = true);

// ---- context and checkpoints -----------------------------------------------

$("compact").onclick = async () => {
  if (!session) return;
  const btn = $<HTMLButtonElement>("compact");
  btn.disabled = true;
  try {
    const r = await conn.request("codelab/compactSession", { sessionId: session.id });
    const c = r.compaction;
    showInfo(c ? `context compacted: ${shortTokens(c.tokensBefore)} → ${shortTokens(c.tokensAfter)} tokens` : "nothing to compact: the history is the latest turn only");
  } catch (e) {
    showError(e);
  } finally {
    btn.disabled = false;
  }
};

/** The turns that changed files, newest first, each with its diff stat and a Restore button. */
async function showCheckpoints() {
  if (!session) return;
  const { turns } = await conn.request("codelab/listCheckpoints", { sessionId: session.id });
  $("restore-conflict").hidden = true;
  const list = $("checkpoint-list");
  list.replaceChildren(
    ...(turns.length === 0 ? [emptyCheckpoints()] : [...turns].reverse().map((t: TurnCheckpoint) => checkpointRow(t))),
  );
  $("checkpoints-panel").hidden = false;
}

function emptyCheckpoints(): HTMLElement {
  const li = document.createElement("li");
  li.textContent = "No checkpoints: the agent changed no file in this session.";
  return li;
}

function checkpointRow(t: TurnCheckpoint): HTMLElement {
  const li = document.createElement("li");
  li.className = "checkpoint";
  li.dataset.turn = t.turnId;
  const prompt = document.createElement("span");
  prompt.className = "prompt";
  prompt.textContent = chat?.prompt(t.turnId)?.split("\n", 1)[0] ?? `turn ${t.turnId.slice(-8)}`;
  const files = document.createElement("span");
  files.className = "files";
  files.textContent = t.files.map((f) => `${f.path} +${f.added} -${f.removed}`).join(", ");
  files.title = t.files.map((f) => `${f.path}: ${f.status}`).join("\n");
  const btn = document.createElement("button");
  btn.textContent = "Restore";
  btn.onclick = () => void restore(t.turnId, false, $<HTMLInputElement>("restore-truncate").checked).catch(showError);
  li.append(prompt, files, btn);
  return li;
}

/** Restores before `turnId`; files the user changed since the agent are asked about. */
async function restore(turnId: string, overwrite: boolean, truncateConversation: boolean) {
  if (!session) return;
  const r = await conn.request("codelab/restoreCheckpoint", { sessionId: session.id, turnId, overwrite, truncateConversation });
  if (r.restored.length > 0) showInfo(`restored ${r.restored.join(", ")}`);
  if (r.conflicts.length > 0 && !overwrite) {
    $("conflict-text").textContent = `Changed since the agent's edit: ${r.conflicts.join(", ")}. Overwrite them with the checkpoint?`;
    $("restore-conflict").hidden = false;
    $("conflict-overwrite").onclick = () => {
      $("restore-conflict").hidden = true;
      void restore(turnId, true, false).catch(showError);
    };
    $("conflict-keep").onclick = () => ($("restore-conflict").hidden = true);
    return;
  }
  $("checkpoints-panel").hidden = true;
}

$("checkpoints-btn").onclick = () => void showCheckpoints().catch(showError);
$("checkpoints-close").onclick = () => ($("checkpoints-panel").hidden = true);

// ---- views -----------------------------------------------------------------

for (const btn of document.querySelectorAll<HTMLButtonElement>(".tab-btn")) {
  btn.onclick = () => {
    for (const b of document.querySelectorAll(".tab-btn")) b.classList.toggle("active", b === btn);
    const dash = btn.dataset.view === "dashboard";
    $("ide").hidden = dash;
    $("dashboard").hidden = !dash;
    if (dash) void showDashboard($("dashboard"), conn).catch(showError);
  };
}

function showInfo(msg: string) {
  const el = document.createElement("div");
  el.className = "toast info";
  el.textContent = msg;
  document.body.append(el);
  setTimeout(() => el.remove(), 6000);
}

function showError(e: unknown) {
  const msg = (e as any)?.message ?? String(e);
  const el = document.createElement("div");
  el.className = "toast";
  el.textContent = msg;
  document.body.append(el);
  setTimeout(() => el.remove(), 6000);
}

// A handle for the end-to-end tests and the console: what was attached with
// which afterSeq, the last seq shown, and a way to drop the socket.
(window as any).codelab = {
  attaches,
  closedAt,
  lastSeq: () => chat?.lastSeq ?? 0,
  session: () => session?.id,
  drop: () => conn.drop(),
  get editor() {
    return wb?.editor;
  },
  get tabs() {
    return wb?.tabs;
  },
  get monaco() {
    return wb?.monaco;
  },
  /** Whether the editor's language client runs on the current socket. */
  languageClient: () => wb?.docs.running() ?? false,
  editorReadyAt: () => editorReadyAt,
};

conn.start();
