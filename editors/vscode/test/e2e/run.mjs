// End to end: the packaged extension in a real VS Code (code-server), driven
// by Playwright through Debian's Chromium, against the real codelab-agent and
// the mock LLM process. Started by tests/vscode.rs, which passes:
//   CODELAB_BIN, MOCK_LLM_BIN, CODE_SERVER (its entry.js), CHROMIUM, VSIX,
//   WORK (a scratch folder), SCREENSHOTS (optional: where to save PNGs).
// Prints PASS at the end; any failure throws with what the page showed.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is required`);
  return v;
};
const BIN = env("CODELAB_BIN");
const MOCK = env("MOCK_LLM_BIN");
const CODE_SERVER = env("CODE_SERVER");
const CHROMIUM = env("CHROMIUM");
const VSIX = env("VSIX");
const WORK = env("WORK");
const SHOTS = process.env.SCREENSHOTS;
const T = 60_000;

const children = [];
function start(cmd, args, opts, readyPattern, what) {
  const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${out}`)), 120_000);
    const onData = (d) => {
      out += d.toString();
      const m = out.match(readyPattern);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m, log: () => out });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${what} exited (${code}):\n${out}`)));
  });
}

// ---- the model's script: one reply per model request, in order ----------
const diff = (search, replace) => `<<<<<<< SEARCH\n${search}\n=======\n${replace}\n>>>>>>> REPLACE\n`;
const paced = [];
for (let i = 1; i <= 40; i++) paced.push({ waitMs: 50, text: `w${i} ` });
const replies = [
  // 1. a streamed answer, 50 ms per token
  { chunks: paced },
  // 2. an edit, approved after looking at its diff
  { chunks: [{ toolCall: { id: "d1", name: "apply_diff", arguments: { path: "lib.rs", diff: diff("    1", "    let x = 1;\n    x") } } }] },
  { chunks: [{ toolCall: { id: "c1", name: "execute_command", arguments: { command: "grep -n 'let x' lib.rs" } } }] },
  { chunks: [{ text: "Changed **lib.rs**." }] },
  // 3. an edit, rejected with feedback
  { chunks: [{ toolCall: { id: "d2", name: "apply_diff", arguments: { path: "lib.rs", diff: diff("fn one() -> u32 {", "const fn one() -> u32 {") } } }] },
  { chunks: [{ text: "Understood, leaving it." }] },
  // 4. a turn cancelled while it runs
  { chunks: [{ text: "Thinking hard" }, { stall: true }] },
  // 5. a question, answered with one of its suggestions
  { chunks: [{ toolCall: { id: "q1", name: "ask_followup_question", arguments: { question: "Which colour?", suggestions: ["red", "blue"] } } }] },
  { chunks: [{ toolCall: { id: "q2", name: "attempt_completion", arguments: { result: "Painted it blue." } } }] },
  // 6. an edit whose parameters the user edits before approving
  { chunks: [{ toolCall: { id: "d4", name: "apply_diff", arguments: { path: "lib.rs", diff: diff("    x\n}", "    x * 2\n}") } } }] },
  { chunks: [{ text: "Edited as you asked." }] },
  // 7. an edit decided in another editor while its diff is open here
  { chunks: [{ toolCall: { id: "d5", name: "apply_diff", arguments: { path: "lib.rs", diff: diff("    x + 1\n}", "    x + 1\n}\n// reviewed") } } }] },
  { chunks: [{ text: "Approved elsewhere." }] },
  // 8. an edit left pending across a reload of the window
  { chunks: [{ toolCall: { id: "d3", name: "apply_diff", arguments: { path: "lib.rs", diff: diff("fn one() -> u32 {", "pub fn one() -> u32 {") } } }] },
  { chunks: [{ text: "Made it public." }] },
  // 9. after the server was killed and restarted
  { chunks: [{ text: "Back again." }] },
  // 10. "CodeLab: Compact Session": the summary of the older turns
  { chunks: [{ text: "Summary: the user had lib.rs edited several times; it is public now." }] },
];

fs.mkdirSync(WORK, { recursive: true });
const scriptFile = path.join(WORK, "script.json");
fs.writeFileSync(scriptFile, JSON.stringify({ replies }));
const ws = path.join(WORK, "ws");
const data = path.join(WORK, "data");
const userData = path.join(WORK, "user-data");
const extensions = path.join(WORK, "extensions");
const runtime = path.join(WORK, "run");
for (const d of [ws, path.join(ws, ".git"), data, path.join(userData, "User"), path.join(userData, "Machine"), extensions, runtime]) fs.mkdirSync(d, { recursive: true });
fs.chmodSync(runtime, 0o700);
// The server's path is a machine setting: in code-server, as in any remote
// window, it is read from the machine's settings.
fs.writeFileSync(
  path.join(userData, "Machine", "settings.json"),
  JSON.stringify({ "codelab.serverPath": BIN, "codelab.serverArgs": ["--data-dir", data] }, null, 2),
);
const lib = path.join(ws, "lib.rs");
fs.writeFileSync(lib, "fn one() -> u32 {\n    1\n}\n");
fs.writeFileSync(
  path.join(userData, "User", "settings.json"),
  JSON.stringify(
    {
      "codelab.defaultAgent": "coder",
      "security.workspace.trust.enabled": false,
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "workbench.enableExperiments": false,
      "workbench.secondarySideBar.defaultVisibility": "hidden",
      "chat.disableAIFeatures": true,
      "telemetry.telemetryLevel": "off",
      "extensions.autoCheckUpdates": false,
      "extensions.autoUpdate": false,
      "extensions.ignoreRecommendations": true,
      "update.mode": "none",
      "files.autoSave": "off",
      "editor.autoClosingBrackets": "never",
      "editor.autoClosingQuotes": "never",
      "editor.autoIndent": "none",
      "editor.autoSurround": "never",
      "git.enabled": false,
      "window.restoreWindows": "none",
    },
    null,
    2,
  ),
);

const serverEnv = {
  ...process.env,
  OPENAI_API_KEY: "sk-test",
  CODELAB_MODEL: "gpt-4o-mini",
  CODELAB_DAEMON_IDLE_SECS: "60",
  XDG_RUNTIME_DIR: runtime,
  XDG_DATA_HOME: path.join(WORK, "xdg-data"),
  XDG_CONFIG_HOME: path.join(WORK, "xdg-config"),
  XDG_STATE_HOME: path.join(WORK, "xdg-state"),
  HOME: path.join(WORK, "home"),
};
delete serverEnv.ANTHROPIC_API_KEY;
delete serverEnv.VSCODE_IPC_HOOK_CLI;
fs.mkdirSync(serverEnv.HOME, { recursive: true });

let browser;
let page;
async function main() {
  const mock = await start(MOCK, ["--script", scriptFile], {}, /listening on (http:\/\/\S+)/, "mock-llm");
  const mockUrl = mock.match[1];
  serverEnv.OPENAI_BASE_URL = `${mockUrl}/v1`;

  const install = spawnSync(process.execPath, [CODE_SERVER, "--user-data-dir", userData, "--extensions-dir", extensions, "--install-extension", VSIX], {
    env: serverEnv,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (install.status !== 0 || !/successfully installed/i.test(install.stdout + install.stderr)) {
    throw new Error(`installing the extension failed:\n${install.stdout}\n${install.stderr}`);
  }

  const cs = await start(
    process.execPath,
    [CODE_SERVER, "--auth", "none", "--bind-addr", "127.0.0.1:0", "--user-data-dir", userData, "--extensions-dir", extensions, "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", ws],
    { env: serverEnv },
    /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/,
    "code-server",
  );
  const base = cs.match[1];

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"] });
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  page = await context.newPage();
  await page.goto(`${base}/?folder=${encodeURIComponent(ws)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: 120_000 });
  await page.locator(".statusbar-item", { hasText: "CodeLab: coder" }).waitFor({ timeout: T });

  // Open lib.rs in an editor: the agent's edit must reach this buffer.
  await openFile("lib.rs");

  await runCommand("CodeLab: Open Chat");
  const chat = chatFrame();
  await chat.locator("#input").waitFor({ timeout: T });

  // ---- a streamed answer: part of it shows before the turn ends -------------
  await send(chat, "say hello slowly");
  // Polled in one read each time: the block is still streaming and shows part of the answer.
  let partial = "";
  await waitFor(async () => {
    const texts = await chat.locator(".msg.assistant.streaming .md").evaluateAll((els) => els.map((e) => e.textContent));
    partial = texts.find((t) => /w\d+/.test(t)) ?? "";
    return partial !== "";
  }, "part of the answer to show while it streams");
  if (partial.includes("w40")) throw new Error(`the whole answer was there at once: ${partial}`);
  await chat.locator(".turn-end", { hasText: "end_turn" }).first().waitFor({ timeout: T });
  const full = await chat.locator(".msg.assistant").first().innerText();
  if (!full.includes("w1 w2 w3") || !full.includes("w40")) throw new Error(`streamed text: ${full}`);
  if ((full.match(/w40/g) || []).length !== 1) throw new Error(`the answer was rendered twice: ${full}`);
  const blocks = await chat.locator(".msg.assistant", { hasText: "w40" }).count();
  if (blocks !== 1) throw new Error(`the answer shows in ${blocks} blocks`);
  await expectStatus("CodeLab: coder", false);
  // The context used and the session's cost (codelab/contextUsage) follow the agent.
  await page.locator(".statusbar-item", { hasText: /CodeLab: coder · \d+% of \d+k · \$\d+\.\d\d/ }).waitFor({ timeout: T });

  // ---- an edit: open its diff, approve it; the buffer and the disk change ----
  await send(chat, "make it a binding");
  const card1 = chat.locator(".approval.pending", { hasText: "lib.rs" });
  await card1.waitFor({ timeout: T });
  await expectStatus("CodeLab: coder", true);
  await card1.locator('button[data-action="diff"]').click();
  const diffTab = page.locator(".tab", { hasText: "lib.rs (proposed by apply_diff)" });
  await diffTab.waitFor({ timeout: T });
  await page.locator(".monaco-diff-editor .modified .view-lines", { hasText: "let x = 1;" }).first().waitFor({ timeout: T });
  // The diff opened without taking the focus from the chat.
  const focusInChat = await page.evaluate(() => Boolean(document.activeElement && document.activeElement.closest(".webview, [id='workbench.parts.sidebar'], .pane-body")));
  if (!focusInChat) throw new Error("showing the diff took the focus from the chat");
  if (SHOTS) await shot("approval.png", true);
  await card1.locator('button[data-action="approve"]').click();
  // The command after it may ask too, where commands are not sandboxed.
  await approveCommandsUntil(chat, chat.locator(".turn-end").nth(1));
  await chat.locator(".tool.status-completed", { hasText: "apply_diff" }).waitFor({ timeout: T });
  await chat.locator(".msg.assistant", { hasText: "Changed lib.rs." }).waitFor({ timeout: T });
  await diffTab.waitFor({ state: "detached", timeout: T });
  await chat.locator(".turn-end").nth(1).waitFor({ timeout: T });
  if ((await chat.locator(".md", { hasText: "Changed lib.rs." }).count()) !== 1) throw new Error("a reply after tool calls shows twice");
  // The command run after the edit saw it on disk.
  const grep = chat.locator(".tool.status-completed", { hasText: "execute_command" });
  await grep.locator("summary", { hasText: "Result" }).click();
  await grep.locator(".result pre", { hasText: "2:    let x = 1;" }).waitFor({ timeout: T });
  await editorHas("let x = 1;");
  const disk1 = fs.readFileSync(lib, "utf8");
  if (disk1 !== "fn one() -> u32 {\n    let x = 1;\n    x\n}\n") throw new Error(`lib.rs on disk: ${JSON.stringify(disk1)}`);
  if ((await page.locator(".tab.dirty", { hasText: "lib.rs" }).count()) !== 0) throw new Error("the edited buffer was left unsaved");
  if (SHOTS) await shot("tool-card.png");

  // ---- an edit rejected with feedback: the model reads it, the file stays -----
  await send(chat, "make it const");
  const card2 = chat.locator(".approval.pending", { hasText: "lib.rs" });
  await card2.waitFor({ timeout: T });
  await card2.locator("input.feedback").fill("keep it non-const, callers need a plain fn");
  await card2.locator('button[data-action="reject"]').click();
  await chat.locator(".msg.assistant", { hasText: "Understood, leaving it." }).waitFor({ timeout: T });
  await chat.locator(".approval.decided", { hasText: "reject" }).waitFor({ timeout: T });
  if (fs.readFileSync(lib, "utf8") !== disk1) throw new Error("a rejected edit changed lib.rs");
  const requests = await (await fetch(`${mockUrl}/_mock/requests`)).json();
  if (!JSON.stringify(requests).includes("keep it non-const, callers need a plain fn")) throw new Error("the model never read the feedback");

  // ---- a running turn cancelled -----------------------------------------------
  await send(chat, "think about it");
  await chat.locator(".msg.assistant.streaming", { hasText: "Thinking hard" }).waitFor({ timeout: T });
  await chat.locator("#cancel:not([disabled])").click();
  await chat.locator(".turn-end", { hasText: "cancelled" }).waitFor({ timeout: T });
  await expectStatus("CodeLab: coder", false);

  // ---- a question: the suggestions are buttons ----------------------------------
  await send(chat, "paint it");
  const question = chat.locator(".question", { hasText: "Which colour?" });
  await question.locator('button[data-answer="red"]').waitFor({ timeout: T });
  await question.locator('button[data-answer="blue"]').click();
  await chat.locator(".turn-end", { hasText: "Painted it blue." }).waitFor({ timeout: T });
  await chat.locator(".question.answered", { hasText: "blue" }).waitFor({ timeout: T });
  if (!JSON.stringify(await (await fetch(`${mockUrl}/_mock/requests`)).json()).includes("blue")) throw new Error("the model never got the answer");

  // ---- Edit: the parameters open as JSON; the edited ones are what runs ---------
  const beforeDouble = fs.readFileSync(lib, "utf8");
  await send(chat, "double it");
  const card4 = chat.locator(".approval.pending", { hasText: "lib.rs" });
  await card4.waitFor({ timeout: T });
  await card4.locator('button[data-action="edit"]').click();
  const jsonEditor = page.locator(".editor-group-container .monaco-editor", { hasText: "x * 2" }).first();
  await jsonEditor.waitFor({ timeout: T });
  await jsonEditor.locator(".view-lines").click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(JSON.stringify({ path: "lib.rs", diff: diff("    x\n}", "    x + 1\n}") }));
  await runCommand("CodeLab: Send Edited Parameters");
  await chat.locator(".msg.assistant", { hasText: "Edited as you asked." }).waitFor({ timeout: T });
  await waitFor(() => fs.readFileSync(lib, "utf8").includes("    x + 1\n}"), "lib.rs to hold the edited parameters' change");
  if (fs.readFileSync(lib, "utf8").includes("x * 2")) throw new Error("the model's own parameters ran");

  // ---- an approval decided in another editor: its card and its diff go ------------
  await send(chat, "review it");
  const card5 = chat.locator(".approval.pending", { hasText: "lib.rs" });
  await card5.waitFor({ timeout: T });
  await card5.locator('button[data-action="diff"]').click();
  const diffTab5 = page.locator(".tab", { hasText: "lib.rs (proposed by apply_diff)" });
  await diffTab5.waitFor({ timeout: T });
  const decidedBefore = await chat.locator(".approval.decided", { hasText: "approve by client:" }).count();
  const other = await lspClient();
  const pending = await other.request("codelab/listPendingApprovals", {});
  if (pending.result?.approvals?.length !== 1) throw new Error(`another editor sees ${JSON.stringify(pending)}`);
  const decided = await other.request("codelab/decideApproval", { approvalId: pending.result.approvals[0].id, decision: "approve" });
  if (decided.error) throw new Error(`deciding from another editor: ${JSON.stringify(decided.error)}`);
  other.close();
  await chat.locator(".msg.assistant", { hasText: "Approved elsewhere." }).waitFor({ timeout: T });
  await waitFor(async () => (await chat.locator(".approval.decided", { hasText: "approve by client:" }).count()) === decidedBefore + 1, "the card to show the decision made elsewhere");
  if ((await card5.count()) !== 0) throw new Error("the approval decided elsewhere still asks here");
  await diffTab5.waitFor({ state: "detached", timeout: T });
  await waitFor(() => fs.readFileSync(lib, "utf8").includes("// reviewed"), "lib.rs to hold the edit approved elsewhere");

  // ---- reload the window: the session and its pending approval are back --------
  await send(chat, "make it public");
  await chat.locator(".approval.pending", { hasText: "lib.rs" }).waitFor({ timeout: T });
  await page.reload();
  await page.locator(".monaco-workbench").waitFor({ timeout: 120_000 });
  // The extension is active again (its commands are registered with the status item).
  await page.locator(".statusbar-item", { hasText: "CodeLab: coder" }).waitFor({ timeout: T });
  await runCommand("CodeLab: Open Chat");
  const chat2 = chatFrame();
  await chat2.locator(".msg.user", { hasText: "say hello slowly" }).waitFor({ timeout: T });
  await chat2.locator(".msg.assistant", { hasText: "Changed lib.rs." }).waitFor({ timeout: T });
  if ((await chat2.locator(".msg.user", { hasText: "say hello slowly" }).count()) !== 1) throw new Error("the history was replayed twice");
  const card3 = chat2.locator(".approval.pending", { hasText: "lib.rs" });
  await card3.waitFor({ timeout: T });
  await card3.locator('button[data-action="approve"]').click();
  await chat2.locator(".msg.assistant", { hasText: "Made it public." }).waitFor({ timeout: T });
  await waitFor(() => fs.readFileSync(lib, "utf8").startsWith("pub fn one()"), "lib.rs to hold the approved edit after the reload");
  // The session list shows it, with its agent.
  const header = page.locator(".pane-header", { hasText: "Sessions" });
  if ((await header.getAttribute("aria-expanded")) !== "true") await header.click();
  await page.locator(".pane", { has: header }).locator(".monaco-list-row", { hasText: "coder" }).first().waitFor({ timeout: T });

  // ---- the server killed: a notification, a restart, and the next message works --
  const pids = serverPids();
  if (pids.length === 0) throw new Error("no codelab-agent --stdio process found");
  for (const pid of pids) process.kill(pid, "SIGKILL");
  await page.locator(".notifications-toasts, .notification-toast", { hasText: "server stopped unexpectedly" }).first().waitFor({ timeout: T });
  await waitFor(() => serverPids().some((p) => !pids.includes(p)), "the server to be started again");
  await send(chat2, "are you there?");
  await chat2.locator(".msg.assistant", { hasText: "Back again." }).waitFor({ timeout: T });
  if ((await chat2.locator(".msg.assistant", { hasText: "Back again." }).count()) !== 1) throw new Error("an answer rendered twice after the restart");

  // ---- compact on demand: the tokens before and after, a marker in the chat -------
  await runCommand("CodeLab: Compact Session");
  await page.locator(".notification-toast", { hasText: /context compacted: [\d.]+k? → [\d.]+k? tokens/ }).first().waitFor({ timeout: T });
  await chat2.locator(".compaction", { hasText: "context compacted (summarised)" }).waitFor({ timeout: T });
  if ((await chat2.locator(".msg.user", { hasText: "Summary:" }).count()) !== 0) throw new Error("the compaction marker shows as a message of the user");

  // ---- checkpoints: the user changed lib.rs after the agent; restore asks, then overwrites
  await openFile("lib.rs");
  await editorHas("pub fn one()");
  const userChange = fs.readFileSync(lib, "utf8") + "// the user's line\n";
  fs.writeFileSync(lib, userChange);
  await editorHas("the user's line");
  await runCommand("CodeLab: Checkpoints: Restore Files");
  // Every turn that changed files is listed, with what was asked and its diff stat.
  const turnRow = page.locator(".quick-input-list .monaco-list-row", { hasText: "double it" });
  await turnRow.waitFor({ timeout: T });
  if (!(await turnRow.innerText()).includes("lib.rs +1 -1")) throw new Error(`the checkpoint row: ${await turnRow.innerText()}`);
  for (const asked of ["make it public", "review it", "make it a binding"]) {
    if ((await page.locator(".quick-input-list .monaco-list-row", { hasText: asked }).count()) !== 1) throw new Error(`the turn "${asked}" is not listed`);
  }
  await turnRow.click();
  await page.locator(".quick-input-list .monaco-list-row", { hasText: "truncate the conversation" }).click();
  const dialog = page.locator(".monaco-dialog-box", { hasText: "Changed since the agent's edit: lib.rs" });
  await dialog.waitFor({ timeout: T });
  if (SHOTS) await shot("restore-conflict.png", true);
  if (fs.readFileSync(lib, "utf8") !== userChange) throw new Error("a conflicting file was restored before the user said so");
  await dialog.getByRole("button", { name: "Overwrite", exact: true }).click();
  // Restoring a turn puts back what it and every later turn changed.
  await waitFor(() => fs.readFileSync(lib, "utf8") === beforeDouble, "lib.rs on disk as before the restored turn");
  const editorText = async () => (await page.locator(".editor-group-container .monaco-editor .view-lines").first().innerText()).replace(/\u00a0/g, " ");
  await waitFor(async () => {
    const t = await editorText();
    return t.includes("fn one() -> u32 {") && !t.includes("pub fn") && !t.includes("the user's line") && !t.includes("x + 1");
  }, "the editor to show lib.rs as before the restored turn");
  await page.locator(".notification-toast", { hasText: "restored lib.rs" }).first().waitFor({ timeout: T });
  await chat2.locator(".compaction.rewound").waitFor({ timeout: T });
  // Through the editor: undo takes the restore back.
  await page.locator(".editor-group-container .monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+Z");
  await editorHas("pub fn one()");
  await page.keyboard.press("Control+Shift+Z");
  await waitFor(async () => !(await editorText()).includes("pub fn"), "redo to put the restore back");

  // ---- the agent picker switches the session's agent; the status bar follows ----
  await chat2.locator("#agent").selectOption("architect");
  await page.locator(".statusbar-item", { hasText: "CodeLab: architect" }).waitFor({ timeout: T });
  await chat2.locator(".agent-switch", { hasText: "architect" }).waitFor({ timeout: T });

  // ---- sessions: a new one, then the old one deleted from the list ----------------
  await runCommand("CodeLab: New Session");
  await waitFor(async () => (await chat2.locator(".msg").count()) === 0, "the new session's empty chat");
  await page.locator(".statusbar-item", { hasText: "CodeLab: coder" }).waitFor({ timeout: T });
  const rows = page.locator(".pane", { has: header }).locator(".monaco-list-row");
  await waitFor(async () => (await rows.count()) === 2, "both sessions to be listed");
  const old = rows.filter({ hasText: "architect" });
  await old.hover();
  await old.locator('.action-label[aria-label="Delete Session"]').click();
  await page.locator(".monaco-dialog-box").getByRole("button", { name: "Delete", exact: true }).click();
  await waitFor(async () => (await rows.count()) === 1 && (await rows.filter({ hasText: "coder" }).count()) === 1, "the deleted session to leave the list");
}

function chatFrame() {
  return page.frameLocator('iframe.webview[src*="extensionId=codelab.codelab"]').frameLocator("iframe#active-frame");
}

async function runCommand(command, arg) {
    if (arg !== undefined) {
    await page.keyboard.press("Control+P");
  } else {
    await page.keyboard.press("Control+Shift+P");
  }
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ timeout: T });
  if (arg !== undefined) {
    await input.fill(arg);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: arg }).first().waitFor({ timeout: T });
  } else {
    await input.fill(`>${command}`);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: command }).first().waitFor({ timeout: T });
  }
  await page.keyboard.press("Enter");
}

/**
 * Opens `name` with Quick Open until its tab is the active one: under load
 * the list can still be filling when the row shows, and Enter then opens
 * nothing, so a try that leaves no tab is made again (at most three).
 */
async function openFile(name) {
  const tab = page.locator(".tab.active", { hasText: name });
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press("Control+P");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ timeout: T });
    await input.fill(name);
    const row = page.locator(".quick-input-list .monaco-list-row", { hasText: name }).first();
    await row.waitFor({ timeout: T });
    await row.click();
    try {
      await tab.waitFor({ timeout: 15000 });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      await page.keyboard.press("Escape");
    }
  }
}

/** Approves `execute_command` approvals until `done` shows. */
async function approveCommandsUntil(chat, done) {
  await waitFor(async () => {
    if ((await done.count()) > 0) return true;
    const ask = chat.locator(".approval.pending", { hasText: "execute_command" }).locator('button[data-action="approve"]');
    if ((await ask.count()) > 0) await ask.first().click().catch(() => undefined);
    return false;
  }, "the turn to end");
}

async function send(chat, text) {
  await chat.locator("#input").fill(text);
  await chat.locator("#send").click();
  await chat.locator(".msg.user", { hasText: text }).waitFor({ timeout: T });
}

async function expectStatus(text, running) {
  const item = page.locator(".statusbar-item", { hasText: text });
  await waitFor(async () => (await item.innerText()).includes("(working)") === running, `the status bar to show ${text}${running ? " (working)" : ""}`);
}

async function editorHas(text) {
  const lines = page.locator(".editor-group-container .monaco-editor .view-lines").first();
  await waitFor(async () => (await lines.innerText()).replace(/\u00a0/g, " ").includes(text), `the editor to show ${text}`);
}

async function shot(name, whole = false) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, name);
  if (whole) await page.screenshot({ path: file });
  else await page.locator('[id="workbench.parts.sidebar"]').screenshot({ path: file });
}

async function waitFor(cond, what, ms = T) {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Another editor: a plain LSP client of the same daemon, over stdio. */
async function lspClient() {
  const child = spawn(BIN, ["--stdio", "--data-dir", data], { env: serverEnv, stdio: ["pipe", "pipe", "ignore"] });
  let buf = Buffer.alloc(0);
  let next = 0;
  const waiting = new Map();
  const write = (msg) => {
    const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...msg }));
    child.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  };
  child.stdout.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, end).toString())?.[1]);
      if (buf.length < end + 4 + len) return;
      const msg = JSON.parse(buf.subarray(end + 4, end + 4 + len).toString());
      buf = buf.subarray(end + 4 + len);
      if (msg.method && msg.id !== undefined) write({ id: msg.id, result: null });
      else if (msg.id !== undefined && waiting.has(msg.id)) {
        waiting.get(msg.id)(msg);
        waiting.delete(msg.id);
      }
    }
  });
  const request = (method, params) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer`)), T);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      write({ id, method, params });
    });
  const init = await request("initialize", { processId: null, rootUri: null, capabilities: {} });
  if (init.error) throw new Error(`initialize: ${JSON.stringify(init.error)}`);
  write({ method: "initialized", params: {} });
  return { request, close: () => child.kill("SIGKILL") };
}

/** The `codelab-agent --stdio` processes of this test (its data dir is unique). */
function serverPids() {
  const pids = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (args.includes("--stdio") && args.includes(data)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e?.stack ?? e}`);
  if (page) {
    try {
      const where = path.join(SHOTS ?? WORK, "failure.png");
      fs.mkdirSync(path.dirname(where), { recursive: true });
      fs.writeFileSync(where, await page.screenshot());
      console.error(`screenshot: ${where}`);
      for (const frame of page.frames()) {
        const log = await frame.evaluate(() => document.getElementById("log")?.innerText).catch(() => undefined);
        if (log !== undefined) console.error(`--- chat ---\n${log}`);
      }
      console.error(`--- notifications ---\n${await page.locator(".notifications-toasts").innerText().catch(() => "")}`);
    } catch {}
  }
} finally {
  if (browser) await browser.close().catch(() => undefined);
  spawnSync(BIN, ["--data-dir", data, "daemon", "stop", "--force"], { env: serverEnv, timeout: 20_000 });
  for (const c of children) c.kill("SIGKILL");
}
if (failed) process.exit(1);
console.log("PASS");
process.exit(0);
