// End to end: the web IDE in Chromium (playwright-core with Debian's
// Chromium, headless, --no-sandbox), served by the real `codelab-agent
// serve` against the mock LLM process. Started by tests/web.rs, which passes:
//   CODELAB_BIN, MOCK_LLM_BIN, CHROMIUM, WORK (a scratch folder),
//   SCREENSHOTS (optional: where to save PNGs).
// Prints PASS at the end; any failure throws with what the page showed.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
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
const CHROMIUM = env("CHROMIUM");
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
const paced = (prefix, n) => Array.from({ length: n }, (_, i) => ({ waitMs: 50, text: `${prefix}${i + 1} ` }));
// The live command waits for this file, which the test creates once it saw
// the command's first line in the tool card. It is in the workspace (a
// sandboxed command has a /tmp of its own), inside .git, where neither git
// nor the checkpoints look.
fs.mkdirSync(path.join(WORK, "ws"), { recursive: true });
const release = path.join(fs.realpathSync(path.join(WORK, "ws")), ".git", "codelab-e2e-release");
const liveCommand = `echo line1; for i in $(seq 1200); do [ -e '${release}' ] && break; sleep 0.05; done; echo line2; echo line3`;
const replies = [
  // 1. read_file while the buffer holds unsaved text
  { chunks: [{ toolCall: { id: "r1", name: "read_file", arguments: { path: "lib.rs" } } }] },
  { chunks: [{ text: "I read it." }] },
  // 2. a streamed answer
  { chunks: paced("w", 40) },
  // 3. an edit approved after viewing its diff
  { chunks: [{ toolCall: { id: "d1", name: "apply_diff", arguments: { path: "lib.rs", diff: diff("    1", "    let x = 1;\n    x") } } }] },
  { chunks: [{ text: "Changed **lib.rs**." }] },
  // 4. with a second tab: a streamed answer both see
  { chunks: paced("v", 20) },
  // 5. an edit decided in the first tab while the second shows it
  { chunks: [{ toolCall: { id: "d2", name: "apply_diff", arguments: { path: "lib.rs", diff: diff("    x\n}", "    x + 1\n}") } } }] },
  { chunks: [{ text: "Approved in the first tab." }] },
  // 6. the page's socket closed mid-stream
  { chunks: paced("z", 60) },
  // 6b. a command whose output shows while it runs
  { chunks: [{ toolCall: { id: "c1", name: "execute_command", arguments: { command: liveCommand } } }] },
  { chunks: [{ text: "Ran it." }] },
  // 7. a turn cancelled while it runs
  { chunks: [{ text: "Thinking hard" }, { stall: true }] },
  // 8. a question answered with one of its suggestions
  { chunks: [{ toolCall: { id: "q1", name: "ask_followup_question", arguments: { question: "Which colour?", suggestions: ["red", "blue"] } } }] },
  { chunks: [{ toolCall: { id: "q2", name: "attempt_completion", arguments: { result: "Painted it blue." } } }] },
  // 9. an edit rejected with feedback
  { chunks: [{ toolCall: { id: "d3", name: "apply_diff", arguments: { path: "lib.rs", diff: diff("fn one() -> u32 {", "const fn one() -> u32 {") } } }] },
  { chunks: [{ text: "Leaving it as it is." }] },
  // 10. an edit whose parameters the user changes before approving
  { chunks: [{ toolCall: { id: "d5", name: "apply_diff", arguments: { path: "lib.rs", diff: diff("    x + 1\n}", "    x + 100\n}") } } }] },
  { chunks: [{ text: "Edited as you asked." }] },
  // 11. an edit pending while the server restarts, approved after
  { chunks: [{ toolCall: { id: "d4", name: "apply_diff", arguments: { path: "lib.rs", diff: diff("    x + 10\n}", "    x + 2\n}") } } }] },
  { chunks: [{ text: "Back again." }, { usage: { input: 1200, output: 80 } }] },
  // 12. the Compact button: the summary of the older turns
  { chunks: [{ text: "Summary: lib.rs was edited in several turns." }] },
  // 13. an approval of several files: a commit of two
  { chunks: [{ toolCall: { id: "g1", name: "git_commit", arguments: { message: "Both files", paths: ["lib.rs", "src/main.rs"] } } }] },
  { chunks: [{ text: "Committed both." }] },
  // 14. an edit of a file whose URI the language client spells differently from the server
  { chunks: [{ toolCall: { id: "d6", name: "apply_diff", arguments: { path: "a+b.rs", diff: diff("fn ab() {}", "fn ab() -> u8 {\n    1\n}") } } }] },
  { chunks: [{ text: "Changed a+b.rs." }] },
  // 15. a second session (the architect): a question answered in free text
  { chunks: [{ toolCall: { id: "q3", name: "ask_followup_question", arguments: { question: "Which name?", suggestions: ["alpha", "beta"] } } }] },
  { chunks: [{ toolCall: { id: "q4", name: "attempt_completion", arguments: { result: "Named it zed." } } }] },
  // 16. switched to the coder: an edit approved for the session, then one of the same file that needs no approval
  { chunks: [{ toolCall: { id: "s1", name: "apply_diff", arguments: { path: "sess.txt", diff: diff("alpha", "beta") } } }] },
  { chunks: [{ text: "First edit." }] },
  { chunks: [{ toolCall: { id: "s2", name: "apply_diff", arguments: { path: "sess.txt", diff: diff("beta", "gamma") } } }] },
  { chunks: [{ text: "Second edit." }] },
];

fs.mkdirSync(WORK, { recursive: true });
const scriptFile = path.join(WORK, "script.json");
fs.writeFileSync(scriptFile, JSON.stringify({ replies }));
fs.mkdirSync(path.join(WORK, "ws"), { recursive: true });
const ws = fs.realpathSync(path.join(WORK, "ws"));
const data = path.join(WORK, "data");
fs.mkdirSync(data, { recursive: true });
const lib = path.join(ws, "lib.rs");
fs.writeFileSync(lib, "fn one() -> u32 {\n    1\n}\n");
fs.mkdirSync(path.join(ws, "src"));
fs.writeFileSync(path.join(ws, "src", "main.rs"), "fn main() {}\n");
// A name the server's URI keeps (`+`) and VS Code's URI encodes (`%2B`).
const ab = path.join(ws, "a+b.rs");
fs.writeFileSync(ab, "fn ab() {}\n");
// Edited twice in the second session (approved once for the session).
fs.writeFileSync(path.join(ws, "sess.txt"), "alpha\n");
// An ignored folder and the protected ignore file: the tree shows both, marked.
fs.writeFileSync(path.join(ws, ".codelabignore"), "private/\n");
fs.mkdirSync(path.join(ws, "private"));
fs.writeFileSync(path.join(ws, "private", "key.txt"), "not for the agents\n");
// A repository, for the commit of two files at the end.
const git = (...args) => {
  const r = spawnSync("git", args, { cwd: ws, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
git("init", "-q");
git("config", "user.name", "CodeLab Test");
git("config", "user.email", "test@codelab.invalid");
git("add", ".");
git("commit", "-q", "-m", "init");

const serverEnv = {
  ...process.env,
  OPENAI_API_KEY: "sk-test",
  CODELAB_MODEL: "gpt-4o-mini",
  HOME: path.join(WORK, "home"),
  XDG_CONFIG_HOME: path.join(WORK, "xdg-config"),
  RUST_LOG: "info",
};
delete serverEnv.ANTHROPIC_API_KEY;
fs.mkdirSync(serverEnv.HOME, { recursive: true });

let port;
let server;
async function startServer() {
  server = await start(
    BIN,
    ["--data-dir", data, "serve", "--listen", `127.0.0.1:${port ?? 0}`, "--workspace", ws, "--rate-limit", "100000", "--token-rate-limit", "100000"],
    { env: serverEnv },
    /open the IDE: (http:\/\/\S+)/,
    "codelab-agent serve",
  );
  // The first start picks a free port; a restart takes the same one back.
  port = Number(new URL(server.match[1]).port);
  return server.match[1];
}
async function stopServer() {
  const child = server.child;
  child.removeAllListeners("exit");
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await gone;
}

let browser;
let page;
/** Frames of closed pages that were not one JSON-RPC message. */
const badFrames = [];
let page2;
async function main() {
  const mock = await start(MOCK, ["--script", scriptFile], {}, /listening on (http:\/\/\S+)/, "mock-llm");
  const mockUrl = mock.match[1];
  serverEnv.OPENAI_BASE_URL = `${mockUrl}/v1`;
  const url = await startServer();
  if (!/#token=[^&]+&folder=/.test(url)) throw new Error(`printed URL: ${url}`);

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"] });
  const context = await browser.newContext({ viewport: { width: 1360, height: 800 } });
  page = await context.newPage();
  const frames = watchFrames(page);
  const started = Date.now();
  await page.goto(url);
  await page.locator("#conn-state[data-state=open]").waitFor({ timeout: T });
  const nav = await page.evaluate(() => performance.getEntriesByType("navigation")[0].toJSON());
  console.log(`page loaded in ${Math.round(nav.loadEventEnd)} ms (DOMContentLoaded ${Math.round(nav.domContentLoadedEventEnd)} ms), connected in ${Date.now() - started} ms`);
  // The editor stack (Monaco, monaco-languageclient) is fetched after the page's load event.
  await page.waitForFunction(() => window.codelab.languageClient(), null, { timeout: T });
  const early = await page.evaluate(() => {
    const load = performance.getEntriesByType("navigation")[0].loadEventEnd;
    const stack = performance.getEntriesByType("resource").filter((r) => /\/assets\/workbench-[^/]*\.js$/.test(r.name));
    return stack.length === 0 ? "the editor stack was never fetched" : stack.filter((r) => r.startTime < load).map((r) => `${r.name} at ${r.startTime}, load ${load}`);
  });
  if (typeof early === "string" || early.length > 0) throw new Error(`the editor stack loaded before the page: ${JSON.stringify(early)}`);
  // The token left the address bar (it stays in this tab's session storage).
  if (page.url().includes("token")) throw new Error(`the token is still in the address bar: ${page.url()}`);

  // ---- a session of the coder in the served folder; its files --------------
  await page.locator("#agent option[value=coder]").waitFor({ state: "attached", timeout: T });
  await page.selectOption("#agent", "coder");
  await page.click("#new-session");
  await page.locator("#files .entry", { hasText: "lib.rs" }).waitFor({ timeout: T });
  const firstSession = await page.evaluate(() => window.codelab.session());
  if ((await sessionAgent(frames, firstSession)) !== "coder") throw new Error("the first session is not the coder's");
  // Ignored files in italics, protected ones with a lock: the user sees both.
  {
    const ignored = page.locator("#files .entry.ignored", { hasText: "private" });
    await ignored.waitFor({ timeout: T });
    const style = await ignored.evaluate((el) => getComputedStyle(el).fontStyle);
    if (style !== "italic") throw new Error(`an ignored entry's style: ${style}`);
    const locked = page.locator("#files .entry.protected", { hasText: ".codelabignore" });
    await locked.waitFor({ timeout: T });
    const after = await locked.evaluate((el) => getComputedStyle(el, "::after").content);
    if (!after.includes("🔒")) throw new Error(`a protected entry's mark: ${after}`);
    if ((await page.locator("#files .entry.ignored, #files .entry.protected", { hasText: "lib.rs" }).count()) !== 0) throw new Error("lib.rs is marked");
  }
  await page.locator("#files .entry.directory", { hasText: "src" }).click();
  await page.locator("#files .entry", { hasText: "main.rs" }).waitFor({ timeout: T });

  // ---- open a file, type without saving: the agent reads the unsaved text ---
  await page.locator("#files .entry", { hasText: "lib.rs" }).first().click();
  await page.locator(".tab.active", { hasText: "lib.rs" }).waitFor({ timeout: T });
  await page.locator("#editor .view-lines", { hasText: "fn one()" }).waitFor({ timeout: T });
  await page.evaluate(() => {
    const ed = window.codelab.editor;
    ed.setPosition({ lineNumber: 1, column: 1 });
    ed.focus();
  });
  await page.keyboard.type("// draft note\n");
  await page.locator(".tab.dirty", { hasText: "lib.rs" }).waitFor({ timeout: T });
  if (fs.readFileSync(lib, "utf8").includes("draft note")) throw new Error("typing saved the file");
  await send(page, "read lib.rs");
  await page.locator(".msg.assistant", { hasText: "I read it." }).waitFor({ timeout: T });
  const readCard = page.locator(".tool.status-completed", { hasText: "read_file" });
  await readCard.locator("summary", { hasText: "Result" }).click();
  await readCard.locator(".result pre", { hasText: "// draft note" }).waitFor({ timeout: T });
  const reqs = await (await fetch(`${mockUrl}/_mock/requests`)).json();
  if (!JSON.stringify(reqs).includes("// draft note")) throw new Error("the model never saw the unsaved text");
  // One socket carried the language client's document sync and the chat's
  // message, the typed text first; one handshake went to the server.
  {
    const log = frames.log;
    const uri = (m) => m.params?.textDocument?.uri ?? "";
    const opened = indexOf(log, (m) => m.dir === "sent" && m.method === "textDocument/didOpen" && uri(m).endsWith("/lib.rs"));
    const change = (m) => m.dir === "sent" && m.method === "textDocument/didChange" && uri(m).endsWith("/lib.rs");
    const typed = indexOf(log, change);
    const asked = indexOf(log, (m) => m.dir === "sent" && m.method === "codelab/sendMessage" && m.params.text === "read lib.rs");
    // Every keystroke's change went before the message (none after it).
    const late = indexOf(log, change, asked);
    if (opened < 0 || typed < opened || asked < typed || late >= 0) {
      throw new Error(`didOpen at ${opened}, the first typed didChange at ${typed}, the message at ${asked}, a didChange after it at ${late}`);
    }
    if (new Set([log[opened].socket, log[typed].socket, log[asked].socket]).size !== 1) throw new Error("the documents and the chat went on different sockets");
    const inits = log.filter((m) => m.dir === "sent" && m.method === "initialize" && m.socket === log[asked].socket).length;
    if (inits !== 1) throw new Error(`${inits} initialize requests on the socket`);
  }

  // ---- save with Ctrl+S ------------------------------------------------------
  await page.locator("#editor .view-lines").click();
  await page.keyboard.press("Control+s");
  await page.locator(".tab.dirty").waitFor({ state: "detached", timeout: T });
  const saved = fs.readFileSync(lib, "utf8");
  if (saved !== "// draft note\nfn one() -> u32 {\n    1\n}\n") throw new Error(`saved: ${JSON.stringify(saved)}`);

  // ---- a streamed answer: part of it shows before the turn ends --------------
  await send(page, "say hello slowly");
  let partial = "";
  await waitFor(async () => {
    const texts = await page.locator(".msg.assistant.streaming .md").evaluateAll((els) => els.map((e) => e.textContent));
    partial = texts.find((t) => /w\d+/.test(t)) ?? "";
    return partial !== "";
  }, "part of the answer to show while it streams");
  if (partial.includes("w40")) throw new Error(`the whole answer was there at once: ${partial}`);
  await page.locator(".turn-end").nth(1).waitFor({ timeout: T });
  await expectOnce(page, "w40", "w1 w2 w3");
  if (SHOTS) await shot(page, "streamed-answer.png");

  // ---- an edit: view its diff, approve; the model changes with undo, the disk too
  await send(page, "make it a binding");
  const card = page.locator(".approval.pending", { hasText: "lib.rs" });
  await card.waitFor({ timeout: T });
  // The diff editor opened by itself with the proposal; "Show diff" opens it too.
  await card.locator('button[data-action="diff"]').click();
  await page.locator("#diff-panel:not([hidden])").waitFor({ timeout: T });
  await page.locator("#diff-editor .modified .view-lines", { hasText: "let x = 1;" }).first().waitFor({ timeout: T });
  await page.locator("#diff-editor .original .view-lines", { hasText: "fn one()" }).first().waitFor({ timeout: T });
  if (SHOTS) await shot(page, "diff-approval.png");
  await page.click('#diff-actions button[data-diff-action="approve"]');
  await page.locator("#diff-panel").waitFor({ state: "hidden", timeout: T });
  await page.locator(".msg.assistant", { hasText: "Changed lib.rs." }).waitFor({ timeout: T });
  await page.locator(".tool.status-completed", { hasText: "apply_diff" }).waitFor({ timeout: T });
  const edited = "// draft note\nfn one() -> u32 {\n    let x = 1;\n    x\n}\n";
  const model = () => page.evaluate(() => window.codelab.editor.getModel().getValue());
  if ((await model()) !== edited) throw new Error(`the model: ${JSON.stringify(await model())}`);
  // The edit came as workspace/applyEdit, and the language client answered it applied.
  {
    const log = frames.log;
    const req = log.find((m) => m.dir === "received" && m.method === "workspace/applyEdit" && JSON.stringify(m.params).includes("let x = 1;"));
    const res = req && log.find((m) => m.dir === "sent" && m.socket === req.socket && m.id === req.id && m.method === undefined);
    if (!res || res.result?.applied !== true) throw new Error(`workspace/applyEdit: ${JSON.stringify(req)} answered ${JSON.stringify(res)}`);
  }
  await waitFor(() => fs.readFileSync(lib, "utf8") === edited, "the edit on disk");
  if ((await page.locator(".tab.dirty").count()) !== 0) throw new Error("the agent's edit left the tab dirty");
  // Undo takes the agent's edit back in one step; redo puts it back.
  const undone = await page.evaluate(() => {
    const m = window.codelab.editor.getModel();
    if (!m.canUndo()) return "cannot undo";
    m.undo();
    const before = m.getValue();
    m.redo();
    return before;
  });
  if (undone !== saved) throw new Error(`undo gave ${JSON.stringify(undone)}`);
  if ((await model()) !== edited) throw new Error("redo did not restore the edit");
  if (SHOTS) await shot(page, "tool-card.png");

  // ---- a second tab on the same session ---------------------------------------
  page2 = await context.newPage();
  const frames2 = watchFrames(page2);
  await page2.goto(url);
  await page2.locator("#conn-state[data-state=open]").waitFor({ timeout: T });
  await page2.locator(".msg.assistant", { hasText: "Changed lib.rs." }).waitFor({ timeout: T });
  // The second tab has lib.rs open too: the agent's edits still go only to the tab that asked.
  await page2.waitForFunction(() => window.codelab.languageClient(), null, { timeout: T });
  await page2.locator("#files .entry", { hasText: "lib.rs" }).first().click();
  await page2.locator(".tab.active", { hasText: "lib.rs" }).waitFor({ timeout: T });
  await waitFor(() => frames2.log.some((m) => m.dir === "sent" && m.method === "textDocument/didOpen" && m.params.textDocument.uri.endsWith("/lib.rs")), "the second tab's didOpen of lib.rs");
  await send(page, "stream to both");
  await page2.locator(".msg.assistant", { hasText: "v20" }).waitFor({ timeout: T });
  await page.locator(".msg.assistant", { hasText: "v20" }).waitFor({ timeout: T });
  await expectOnce(page2, "v20", "v1 v2");
  const beforeEditAgain = frames.log.length;
  await send(page, "edit again");
  await page2.locator(".approval.pending", { hasText: "lib.rs" }).waitFor({ timeout: T });
  await page2.locator("#diff-panel:not([hidden])").waitFor({ timeout: T });
  await page.locator(".approval.pending", { hasText: "lib.rs" }).locator('button[data-action="approve"]').click();
  await page2.locator(".approval.decided", { hasText: "approve" }).waitFor({ timeout: T });
  await page2.locator("#diff-panel").waitFor({ state: "hidden", timeout: T });
  if ((await page2.locator(".approval.pending").count()) !== 0) throw new Error("the second tab still shows the approval");
  await page2.locator(".msg.assistant", { hasText: "Approved in the first tab." }).waitFor({ timeout: T });
  {
    const toFirst = frames.log.slice(beforeEditAgain).filter((m) => m.dir === "received" && m.method === "workspace/applyEdit");
    if (toFirst.length !== 1 || !toFirst[0].params.edit.documentChanges[0].textDocument.uri.endsWith("/lib.rs")) throw new Error(`the approved edit reached the first tab as ${JSON.stringify(toFirst)}`);
    const toSecond = frames2.log.filter((m) => m.dir === "received" && m.method === "workspace/applyEdit");
    if (toSecond.length !== 0) throw new Error(`workspace/applyEdit reached the second tab: ${JSON.stringify(toSecond)}`);
  }
  await page2.close();
  badFrames.push(...frames2.bad);

  // ---- the page's socket closed mid-stream, the server running -----------------
  await send(page, "a long answer");
  await page.locator(".msg.assistant.streaming", { hasText: "z3" }).waitFor({ timeout: T });
  const attachesBefore = frames.attaches.length;
  const shownAtDrop = await page.evaluate(() => {
    window.codelab.drop();
    return window.codelab.lastSeq();
  });
  await page.locator(".msg.assistant", { hasText: "z60" }).waitFor({ timeout: T });
  await page.locator(".turn-end").nth(5).waitFor({ timeout: T });
  await expectOnce(page, "z60", "z1 z2 z3");
  const closedAt = await page.evaluate(() => window.codelab.closedAt.at(-1));
  const attach = frames.attaches[attachesBefore];
  if (!attach) throw new Error("no attach after the reconnect");
  if (attach.afterSeq !== closedAt || closedAt < shownAtDrop) {
    throw new Error(`the attach after the drop carried afterSeq ${attach.afterSeq}; the page showed up to seq ${closedAt} (${shownAtDrop} when dropped)`);
  }
  if (closedAt <= 0) throw new Error("nothing was shown before the drop");
  // On the new socket the language client opened the document again before the re-attach.
  {
    const log = frames.log;
    const at = indexOf(log, (m) => m.dir === "sent" && m.method === "codelab/attachSession" && m.params === attach);
    const s = log[at].socket;
    const reopened = indexOf(log, (m) => m.socket === s && m.dir === "sent" && m.method === "textDocument/didOpen" && (m.params.textDocument.uri ?? "").endsWith("/lib.rs"));
    if (reopened < 0 || reopened > at) throw new Error(`after the reconnect: didOpen at ${reopened}, the attach at ${at}`);
  }
  await page.waitForFunction(() => window.codelab.languageClient(), null, { timeout: T });

  // ---- a command's output shows in its card while it runs ----------------------
  await send(page, "run it");
  const running = page.locator(".tool", { hasText: "execute_command" });
  const liveLine = running.locator(".output.live", { hasText: "line1" });
  // Sandboxed, the command runs without asking; approved if it asks.
  const askRun = page.locator(".approval.pending", { hasText: "execute_command" }).locator('button[data-action="approve"]');
  await waitFor(async () => (await liveLine.count()) > 0 || (await askRun.count()) > 0, "the command to run or ask");
  if ((await askRun.count()) > 0) await askRun.click();
  await liveLine.waitFor({ timeout: T });
  // The command waits for the release file: it has not completed yet.
  const status = await running.getAttribute("class");
  if (/status-(completed|failed)/.test(status) || (await running.locator(".output.live").innerText()).includes("line2")) {
    throw new Error(`the command's card before its release: ${status}: ${await running.innerText()}`);
  }
  fs.writeFileSync(release, "");
  const ran = page.locator(".tool.status-completed", { hasText: "execute_command" });
  await ran.waitFor({ timeout: T });
  await ran.locator("summary", { hasText: "Result" }).click();
  await ran.locator(".result pre", { hasText: "line3" }).waitFor({ timeout: T });
  const ranText = await ran.locator(".result pre").innerText();
  if (!/line1[\s\S]*line2[\s\S]*line3/.test(ranText)) throw new Error(`the command's result: ${ranText}`);
  if ((await ran.locator(".output.live").count()) !== 0) throw new Error("the live output stayed after the command completed");
  await page.locator(".msg.assistant", { hasText: "Ran it." }).waitFor({ timeout: T });

  // ---- cancel, a question, a rejection with feedback ----------------------------
  await send(page, "think about it");
  await page.locator(".msg.assistant.streaming", { hasText: "Thinking hard" }).waitFor({ timeout: T });
  await page.click("#cancel:not([disabled])");
  await page.locator(".turn-end", { hasText: "cancelled" }).waitFor({ timeout: T });
  await send(page, "paint it");
  const question = page.locator(".question", { hasText: "Which colour?" });
  await question.locator('button[data-answer="blue"]').click();
  await page.locator(".turn-end", { hasText: "Painted it blue." }).waitFor({ timeout: T });
  const beforeReject = fs.readFileSync(lib, "utf8");
  await send(page, "make it const");
  const rejected = page.locator(".approval.pending", { hasText: "lib.rs" });
  await rejected.waitFor({ timeout: T });
  await page.fill("#diff-feedback", "keep it a plain fn");
  await page.click('#diff-actions button[data-diff-action="reject"]');
  await page.locator(".msg.assistant", { hasText: "Leaving it as it is." }).waitFor({ timeout: T });
  if (fs.readFileSync(lib, "utf8") !== beforeReject) throw new Error("a rejected edit changed lib.rs");
  const seen = await (await fetch(`${mockUrl}/_mock/requests`)).json();
  if (!JSON.stringify(seen).includes("keep it a plain fn")) throw new Error("the model never read the feedback");

  // ---- edit the parameters, then approve ------------------------------------------
  const beforeHundred = fs.readFileSync(lib, "utf8");
  await send(page, "add a hundred");
  await page.locator(".approval.pending", { hasText: "lib.rs" }).waitFor({ timeout: T });
  await page.click('#diff-actions button[data-diff-action="edit"]');
  await page.locator("#params-panel:not([hidden])").waitFor({ timeout: T });
  const params = JSON.parse(await page.inputValue("#params-text"));
  params.diff = params.diff.replace("x + 100", "x + 10");
  await page.fill("#params-text", JSON.stringify(params, null, 2));
  await page.click("#params-send");
  await page.locator(".msg.assistant", { hasText: "Edited as you asked." }).waitFor({ timeout: T });
  await waitFor(() => fs.readFileSync(lib, "utf8").includes("    x + 10\n}"), "the edited parameters' change on disk");
  if (!(await page.locator("#params-panel").isHidden())) throw new Error("the parameters panel stayed open");

  // ---- the server killed and restarted with an approval pending ------------------
  await send(page, "one more edit");
  await page.locator(".approval.pending", { hasText: "lib.rs" }).waitFor({ timeout: T });
  await page.locator("#diff-panel:not([hidden])").waitFor({ timeout: T });
  const shownBefore = await page.locator("#messages > div").count();
  const closes = await page.evaluate(() => window.codelab.closedAt.length);
  await stopServer();
  await waitFor(async () => (await page.evaluate(() => window.codelab.closedAt.length)) > closes, "the page to see the server go");
  await startServer();
  await page.locator("#conn-state[data-state=open]").waitFor({ timeout: T });
  await waitFor(async () => frames.attaches.length > attachesBefore + 1, "the attach after the restart");
  const shownAfter = await page.locator("#messages > div").count();
  if (shownAfter !== shownBefore) throw new Error(`the chat had ${shownBefore} items before the restart and ${shownAfter} after`);
  await expectOnce(page, "w40", "w1 w2 w3");
  // The approval is still there, its diff shown.
  await page.locator(".approval.pending", { hasText: "lib.rs" }).waitFor({ timeout: T });
  await page.locator("#diff-editor .modified .view-lines", { hasText: "x + 2" }).first().waitFor({ timeout: T });
  // ---- a reload: the token from this tab's session storage (the fragment is
  // gone), the approval and its diff from the attach's pendingApprovals ---------
  if (page.url().includes("#")) throw new Error(`the address still has a fragment: ${page.url()}`);
  const sentBeforeReload = frames.log.length;
  await page.reload();
  await page.locator("#conn-state[data-state=open]").waitFor({ timeout: T });
  await page.locator(".approval.pending", { hasText: "lib.rs" }).waitFor({ timeout: T });
  await page.locator("#diff-panel:not([hidden])").waitFor({ timeout: T });
  await page.locator("#diff-editor .modified .view-lines", { hasText: "x + 2" }).first().waitFor({ timeout: T });
  {
    const log = frames.log.slice(sentBeforeReload);
    const req = log.find((m) => m.dir === "sent" && m.method === "codelab/attachSession");
    if (!req || req.params.sessionId !== firstSession || req.params.afterSeq !== 0) throw new Error(`the attach after the reload: ${JSON.stringify(req?.params)}`);
    const res = log.find((m) => m.dir === "received" && m.socket === req.socket && m.id === req.id && m.method === undefined);
    const pendingAtAttach = res?.result?.pendingApprovals ?? [];
    if (pendingAtAttach.length !== 1 || pendingAtAttach[0].tool !== "apply_diff" || !JSON.stringify(pendingAtAttach[0]).includes("x + 2")) {
      throw new Error(`the attach's pendingApprovals: ${JSON.stringify(pendingAtAttach)}`);
    }
    const card = await page.locator(".approval.pending").getAttribute("data-approval");
    if (card !== pendingAtAttach[0].id) throw new Error(`the card shows approval ${card}, the attach carried ${pendingAtAttach[0].id}`);
  }
  await expectOnce(page, "w40", "w1 w2 w3");
  // The dashboard counts it.
  await page.click('.tab-btn[data-view="dashboard"]');
  await page.locator('.figure[data-figure="pending approvals"] .v').waitFor({ timeout: T });
  {
    const pendingFigure = await page.locator('.figure[data-figure="pending approvals"] .v').innerText();
    if (pendingFigure !== "1") throw new Error(`the dashboard shows ${pendingFigure} pending approvals`);
  }
  await page.click('.tab-btn[data-view="ide"]');
  // Approving it resumes the turn.
  await page.locator("#diff-panel:not([hidden])").waitFor({ timeout: T });
  await page.click('#diff-actions button[data-diff-action="approve"]');
  await page.locator(".msg.assistant", { hasText: "Back again." }).waitFor({ timeout: T });
  await expectOnce(page, "Back again.", "Back again.");
  await waitFor(() => fs.readFileSync(lib, "utf8").includes("x + 2"), "the edit approved after the restart on disk");

  // ---- a page of another origin cannot connect --------------------------------
  const token = new URL(url).hash.match(/token=([^&]+)/)[1];
  const other = http.createServer((_req, res) => {
    res.setHeader("content-type", "text/html");
    res.end(`<script>
      const s = new WebSocket("ws://127.0.0.1:${port}/lsp", ["codelab-token.${token}"]);
      s.onopen = () => { document.title = "opened"; };
      s.onclose = () => { if (document.title !== "opened") document.title = "refused"; };
    </script>`);
  });
  await new Promise((r) => other.listen(0, "127.0.0.1", r));
  const evil = await context.newPage();
  await evil.goto(`http://127.0.0.1:${other.address().port}/`);
  await waitFor(async () => (await evil.title()) !== "", "the other origin's socket to settle");
  if ((await evil.title()) !== "refused") throw new Error(`a page of another origin: ${await evil.title()}`);
  other.close();

  // ---- files: create, rename, delete from the tree ------------------------------
  const answers = ["notes.md", "docs/notes.md", ""];
  const dialogs = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void (d.type() === "confirm" ? d.accept() : d.accept(answers.shift()));
  });
  await page.click("#new-file");
  await page.locator(".tab.active", { hasText: "notes.md" }).waitFor({ timeout: T });
  await waitFor(() => fs.existsSync(path.join(ws, "notes.md")), "notes.md on disk");
  await page.locator("#files .entry", { hasText: "notes.md" }).click({ button: "right" });
  await page.locator("#files .entry.directory", { hasText: "docs" }).waitFor({ timeout: T });
  if (fs.existsSync(path.join(ws, "notes.md")) || !fs.existsSync(path.join(ws, "docs/notes.md"))) throw new Error("the rename did not move notes.md");
  await page.locator("#files .entry.directory", { hasText: "docs" }).click({ button: "right" });
  await page.locator("#files .entry.directory", { hasText: "docs" }).waitFor({ state: "detached", timeout: T });
  if (fs.existsSync(path.join(ws, "docs"))) throw new Error("docs/ was not deleted");

  // ---- the dashboard ------------------------------------------------------------
  await page.click('.tab-btn[data-view="dashboard"]');
  // The dashboard shows what it showed last until the new figures arrive: no approval is pending now.
  await waitFor(async () => (await page.locator('.figure[data-figure="pending approvals"] .v').innerText()) === "0", "the dashboard's figures after the approval");
  const turns = Number(await page.locator('.figure[data-figure="turns"] .v').innerText());
  // Totals since the restarted server started: the resumed turn's tokens.
  if (!(turns >= 0)) throw new Error(`the dashboard shows turns: ${turns}`);
  const tokens = await page.locator('.figure[data-figure="tokens"] .v').innerText();
  if (tokens !== "1280") throw new Error(`the dashboard counts ${tokens} tokens`);
  await page.locator("#dashboard canvas").first().waitFor({ timeout: T });
  // The cost of the one model request since the restart (gpt-4o-mini: $0.15
  // and $0.60 per million tokens in and out), as getMetrics said.
  {
    const cost = await page.locator('.figure[data-figure="cost"] .v').innerText();
    const req = frames.log.findLast((m) => m.dir === "sent" && m.method === "codelab/getMetrics");
    const res = frames.log.find((m) => m.dir === "received" && m.socket === req.socket && m.id === req.id && m.method === undefined);
    const expected = (1200 * 0.15 + 80 * 0.6) / 1e6;
    if (Math.abs(res.result.costUsd - expected) > 1e-9) throw new Error(`getMetrics: cost ${res.result.costUsd}, expected ${expected}`);
    if (cost !== `$${expected.toFixed(4)}`) throw new Error(`the dashboard shows the cost ${cost}`);
    const pendingFigure = await page.locator('.figure[data-figure="pending approvals"] .v').innerText();
    if (pendingFigure !== "0") throw new Error(`the dashboard shows ${pendingFigure} pending approvals once decided`);
  }
  // Each chart drew its data: a canvas with pixels of the series' colours, no empty state.
  {
    const titles = ["Tokens and cost per session", "Tokens and cost over time", "Tool calls by tool and outcome", "Latency (ms) by percentile", "Model latency per request"];
    const cards = page.locator("#dashboard .chart-card");
    if ((await cards.count()) !== titles.length) throw new Error(`the dashboard has ${await cards.count()} charts`);
    if ((await page.locator("#dashboard .chart-card .empty").count()) !== 0) throw new Error(`a chart is empty: ${await page.locator("#dashboard .charts").innerText()}`);
    for (const title of titles) {
      const c = cards.filter({ has: page.locator("h4", { hasText: title }) });
      const drawn = await c.locator("canvas").evaluate((canvas) => {
        const colours = [[0x4e, 0x9c, 0xf5], [0xf5, 0xa5, 0x24], [0x17, 0xc9, 0x64], [0xf3, 0x12, 0x60], [0x93, 0x53, 0xd3], [0x06, 0xb7, 0xdb]];
        const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3] > 200 && colours.some(([r, g, b]) => Math.abs(d[i] - r) < 12 && Math.abs(d[i + 1] - g) < 12 && Math.abs(d[i + 2] - b) < 12)) n++;
        }
        return n;
      });
      if (drawn < 20) throw new Error(`the chart "${title}" drew ${drawn} pixels of its series`);
    }
  }
  if (SHOTS) await shot(page, "dashboard.png");
  await page.click('.tab-btn[data-view="ide"]');

  // ---- the context used and the session's cost in the chat header ----------------
  await waitFor(async () => /^\d+% of \d+k · \$\d+\.\d\d$/.test(await page.locator("#context-usage").innerText()), "the context used in the chat header");

  // ---- Compact: the tokens before and after, a marker in the chat -----------------
  await page.click("#compact");
  await page.locator(".toast.info", { hasText: /context compacted: [\d.]+k? → [\d.]+k? tokens/ }).waitFor({ timeout: T });
  await page.locator("#messages .compaction", { hasText: "context compacted (summarised)" }).waitFor({ timeout: T });
  if ((await page.locator(".msg.user", { hasText: "Summary:" }).count()) !== 0) throw new Error("the compaction marker shows as a message of the user");

  // ---- checkpoints: the user saved a change after the agent's edit; restore asks ---
  await page.locator("#files .entry", { hasText: "lib.rs" }).first().click();
  await page.locator(".tab.active", { hasText: "lib.rs" }).waitFor({ timeout: T });
  await waitFor(async () => (await model()).includes("x + 2"), "the agent's last edit in the model");
  await page.evaluate(() => {
    const ed = window.codelab.editor;
    ed.setPosition({ lineNumber: 1, column: 1 });
    ed.focus();
  });
  await page.keyboard.type("// mine\n");
  // Cmd+S saves as Ctrl+S does.
  await page.keyboard.press("Meta+s");
  await page.locator(".tab.dirty").waitFor({ state: "detached", timeout: T });
  const userSaved = fs.readFileSync(lib, "utf8");
  if (!userSaved.startsWith("// mine\n")) throw new Error(`the user's save: ${JSON.stringify(userSaved)}`);
  await page.click("#checkpoints-btn");
  // Newest first: the turn resumed after the restart (a new turn id, named
  // by the message that started it), then the edit with changed parameters.
  const rows = page.locator("#checkpoint-list .checkpoint");
  await rows.first().waitFor({ timeout: T });
  const prompts = await page.locator("#checkpoint-list .checkpoint .prompt").allInnerTexts();
  if (prompts.join("|") !== "one more edit|add a hundred|edit again|make it a binding") throw new Error(`the checkpoints: ${prompts.join("|")}`);
  const hundred = rows.filter({ hasText: "add a hundred" });
  if ((await hundred.locator(".files").innerText()) !== "lib.rs +1 -1") throw new Error(`its diff stat: ${await hundred.innerText()}`);
  // Restoring a turn puts back what it and every later turn changed.
  await page.check("#restore-truncate");
  await hundred.locator("button", { hasText: "Restore" }).click();
  await page.locator("#restore-conflict:not([hidden])", { hasText: "Changed since the agent's edit: lib.rs" }).waitFor({ timeout: T });
  if (SHOTS) await shot(page, "restore-conflict.png");
  if (fs.readFileSync(lib, "utf8") !== userSaved) throw new Error("a conflicting file was restored before the user said so");
  await page.click("#conflict-overwrite");
  await page.locator("#checkpoints-panel").waitFor({ state: "hidden", timeout: T });
  await waitFor(() => fs.readFileSync(lib, "utf8") === beforeHundred, "lib.rs on disk as before the restored turn");
  if ((await model()) !== beforeHundred) throw new Error(`the model after the restore: ${JSON.stringify(await model())}`);
  if ((await page.locator(".tab.dirty").count()) !== 0) throw new Error("the restore left the tab dirty");
  // Through the editor: one undo step gives the user's text back.
  const undoneRestore = await page.evaluate(() => {
    const m = window.codelab.editor.getModel();
    m.undo();
    const before = m.getValue();
    m.redo();
    return before;
  });
  if (undoneRestore !== userSaved) throw new Error(`undoing the restore gave ${JSON.stringify(undoneRestore)}`);
  await page.locator("#messages .compaction.rewound").waitFor({ timeout: T });

  // ---- an approval of several files: each has its tab in the diff editor ------------
  fs.writeFileSync(path.join(ws, "src", "main.rs"), 'fn main() {\n    println!("hi");\n}\n');
  await send(page, "commit both");
  await page.locator(".approval.pending", { hasText: "git_commit" }).waitFor({ timeout: T });
  await page.locator("#diff-panel:not([hidden])").waitFor({ timeout: T });
  const fileTabs = page.locator("#diff-files .diff-file");
  await waitFor(async () => (await fileTabs.allInnerTexts()).join(",") === "lib.rs,src/main.rs", "a tab per file of the commit");
  await page.locator("#diff-editor .modified .view-lines", { hasText: "let x = 1;" }).first().waitFor({ timeout: T });
  await fileTabs.filter({ hasText: "src/main.rs" }).click();
  await page.locator("#diff-files .diff-file.active", { hasText: "src/main.rs" }).waitFor({ timeout: T });
  await page.locator("#diff-editor .modified .view-lines", { hasText: 'println!("hi");' }).first().waitFor({ timeout: T });
  await page.locator("#diff-editor .original .view-lines", { hasText: "fn main() {}" }).first().waitFor({ timeout: T });
  if (SHOTS) await shot(page, "multi-file-approval.png");
  await fileTabs.filter({ hasText: "lib.rs" }).click();
  await page.locator("#diff-editor .modified .view-lines", { hasText: "let x = 1;" }).first().waitFor({ timeout: T });
  await page.click('#diff-actions button[data-diff-action="approve"]');
  await page.locator(".msg.assistant", { hasText: "Committed both." }).waitFor({ timeout: T });
  const committed = git("show", "--stat", "--format=%s", "HEAD");
  if (!committed.startsWith("Both files") || !committed.includes("lib.rs") || !committed.includes("src/main.rs")) throw new Error(`the commit: ${committed}`);

  // ---- a file whose URI the language client spells otherwise: the edit lands, the tab is clean
  await page.locator("#files .entry", { hasText: "a+b.rs" }).first().click();
  await page.locator(".tab.active", { hasText: "a+b.rs" }).waitFor({ timeout: T });
  await page.locator("#editor .view-lines", { hasText: "fn ab()" }).waitFor({ timeout: T });
  await send(page, "edit a+b");
  await page.locator(".approval.pending", { hasText: "a+b.rs" }).waitFor({ timeout: T });
  await page.locator("#diff-panel:not([hidden])").waitFor({ timeout: T });
  await page.click('#diff-actions button[data-diff-action="approve"]');
  await page.locator(".msg.assistant", { hasText: "Changed a+b.rs." }).waitFor({ timeout: T });
  const abEdited = "fn ab() -> u8 {\n    1\n}\n";
  if ((await model()) !== abEdited) throw new Error(`the model of a+b.rs: ${JSON.stringify(await model())}`);
  await waitFor(() => fs.readFileSync(ab, "utf8") === abEdited, "the edit of a+b.rs on disk");
  if ((await page.locator(".tab.dirty").count()) !== 0) throw new Error("the agent's edit of a+b.rs left a tab dirty");

  // ---- a save conflict: the file changed on disk while its tab was dirty ----------
  await page.evaluate(() => {
    const ed = window.codelab.editor;
    ed.setPosition({ lineNumber: 1, column: 1 });
    ed.focus();
  });
  await page.keyboard.type("// local\n");
  await page.locator(".tab.dirty", { hasText: "a+b.rs" }).waitFor({ timeout: T });
  fs.writeFileSync(ab, "fn ab() -> u8 {\n    2\n}\n");
  const dialogsBefore = dialogs.length;
  await page.keyboard.press("Control+s");
  await page.locator(".tab.dirty").waitFor({ state: "detached", timeout: T });
  const asked = dialogs.slice(dialogsBefore);
  if (asked.length !== 1 || !asked[0].includes("a+b.rs changed on disk")) throw new Error(`the save asked: ${JSON.stringify(asked)}`);
  const overwritten = fs.readFileSync(ab, "utf8");
  if (overwritten !== "// local\n" + abEdited) throw new Error(`after accepting the conflict: ${JSON.stringify(overwritten)}`);

  // ---- the agent picker: switching mid-session; a new session takes the picked agent
  await page.selectOption("#agent", "architect");
  await page.locator("#messages .agent-switch", { hasText: "→ architect" }).waitFor({ timeout: T });
  {
    const sw = frames.log.filter((m) => m.dir === "sent" && m.method === "codelab/switchAgent");
    if (sw.length !== 1 || sw[0].params.sessionId !== firstSession || sw[0].params.agent !== "architect") throw new Error(`switchAgent: ${JSON.stringify(sw)}`);
  }
  await page.click("#new-session");
  await waitFor(async () => (await page.evaluate(() => window.codelab.session())) !== firstSession, "the second session");
  const secondSession = await page.evaluate(() => window.codelab.session());
  if ((await sessionAgent(frames, secondSession)) !== "architect") throw new Error("the second session is not the architect's");
  if ((await page.inputValue("#agent")) !== "architect") throw new Error(`the picker shows ${await page.inputValue("#agent")}`);
  if ((await page.locator("#messages .msg").count()) !== 0) throw new Error("the new session shows the first one's messages");

  // ---- a question answered in free text ------------------------------------------
  await send(page, "name it");
  const q3 = page.locator(".question", { hasText: "Which name?" });
  await q3.locator("input.answer-text").fill("call it zed");
  await q3.locator('button[data-action="answerText"]').click();
  await page.locator(".turn-end", { hasText: "Named it zed." }).waitFor({ timeout: T });
  await page.locator(".question.answered", { hasText: "call it zed" }).waitFor({ timeout: T });
  if (!JSON.stringify(await (await fetch(`${mockUrl}/_mock/requests`)).json()).includes("call it zed")) throw new Error("the model never read the typed answer");

  // ---- approve for the session: the same edit again needs no approval ---------------
  await page.selectOption("#agent", "coder");
  await page.locator("#messages .agent-switch", { hasText: "→ coder" }).waitFor({ timeout: T });
  await send(page, "edit sess.txt");
  await page.locator(".approval.pending", { hasText: "sess.txt" }).locator('button[data-action="approveSession"]').click();
  await page.locator(".msg.assistant", { hasText: "First edit." }).waitFor({ timeout: T });
  const approvalsBefore = frames.log.filter((m) => m.dir === "received" && m.method === "codelab/approvalRequired").length;
  await send(page, "edit sess.txt again");
  await page.locator(".msg.assistant", { hasText: "Second edit." }).waitFor({ timeout: T });
  if (frames.log.filter((m) => m.dir === "received" && m.method === "codelab/approvalRequired").length !== approvalsBefore) throw new Error("the second edit asked for approval");
  if ((await page.locator(".tool.status-completed", { hasText: "apply_diff" }).count()) !== 2) throw new Error("the two edits did not complete");
  if ((await page.locator(".approval").count()) !== 1) throw new Error("the second edit shows an approval");
  await waitFor(() => fs.readFileSync(path.join(ws, "sess.txt"), "utf8") === "gamma\n", "both edits of sess.txt on disk");

  // ---- the sessions list: the first session resumed with its messages -----------------
  const attachesBeforeResume = frames.attaches.length;
  await page.locator(`#sessions li[data-session="${firstSession}"]`).click();
  await page.locator(".msg.assistant", { hasText: "Changed a+b.rs." }).waitFor({ timeout: T });
  await page.locator(".msg.assistant", { hasText: "I read it." }).waitFor({ timeout: T });
  await page.locator(`#sessions li.active[data-session="${firstSession}"]`).waitFor({ timeout: T });
  if ((await page.locator(".msg", { hasText: "Second edit." }).count()) !== 0) throw new Error("the second session's messages stayed");
  await expectOnce(page, "w40", "w1 w2 w3");
  const resumed = frames.attaches.slice(attachesBeforeResume);
  if (resumed.length !== 1 || resumed[0].sessionId !== firstSession || resumed[0].afterSeq !== 0) throw new Error(`the resume's attach: ${JSON.stringify(resumed)}`);
  if ((await page.inputValue("#agent")) !== "architect") throw new Error(`the picker shows ${await page.inputValue("#agent")} for the first session`);

  // Every websocket frame was one JSON-RPC message.
  badFrames.push(...frames.bad);
  if (badFrames.length > 0) throw new Error(`frames that are not one JSON-RPC message: ${JSON.stringify(badFrames.slice(0, 5))}`);
  console.log("PASS");
}

/** Records every attach the page sends, on any of its sockets. */
/**
 * The page's websocket frames: each attach's params, and every JSON-RPC
 * message in order with the socket it went on (0, 1, ... as they opened)
 * and its direction.
 */
function watchFrames(p) {
  const seen = { attaches: [], log: [], sockets: 0, bad: [] };
  p.on("websocket", (socket) => {
    const n = seen.sockets++;
    const record = (dir) => (f) => {
      let m;
      try {
        m = JSON.parse(f.payload);
      } catch {
        seen.bad.push({ socket: n, dir, payload: String(f.payload).slice(0, 200) });
        return;
      }
      if (m === null || typeof m !== "object" || Array.isArray(m) || m.jsonrpc !== "2.0") {
        seen.bad.push({ socket: n, dir, payload: String(f.payload).slice(0, 200) });
        return;
      }
      if (dir === "sent" && m.method === "codelab/attachSession") seen.attaches.push(m.params);
      seen.log.push({ socket: n, dir, ...m });
    };
    socket.on("framesent", record("sent"));
    socket.on("framereceived", record("received"));
  });
  return seen;
}

/** The agent of a session as the page created it and as its attach answered. */
async function sessionAgent(frames, id) {
  const created = frames.log.find((m) => m.dir === "received" && m.result?.id === id && m.result?.agent !== undefined);
  const attach = frames.log.find((m) => m.dir === "sent" && m.method === "codelab/attachSession" && m.params.sessionId === id);
  const attached = attach && frames.log.find((m) => m.dir === "received" && m.socket === attach.socket && m.id === attach.id && m.method === undefined);
  const a = created?.result.agent;
  const b = attached?.result?.session?.agent;
  if (a !== b) throw new Error(`createSession said ${a}, the attach ${b}`);
  return a;
}

/** The index in `log` of the first message that `pred` holds of, from `from` on; -1 if none. */
function indexOf(log, pred, from = 0) {
  for (let i = from; i < log.length; i++) if (pred(log[i])) return i;
  return -1;
}

async function send(p, text) {
  await p.fill("#input", text);
  await p.click("#send");
  await p.locator(".msg.user", { hasText: text }).last().waitFor({ timeout: T });
}

/** The answer holding `last` shows exactly once, in one block, starting with `first`. */
async function expectOnce(p, last, first) {
  const text = await p.locator("#messages").innerText();
  const n = text.split(last).length - 1;
  if (n !== 1) throw new Error(`"${last}" shows ${n} times:\n${text}`);
  const block = await p.locator(".msg.assistant", { hasText: last }).innerText();
  if (!block.includes(first)) throw new Error(`the block of "${last}": ${block}`);
}

async function shot(p, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await p.screenshot({ path: path.join(SHOTS, name) });
}

async function waitFor(cond, what, ms = T) {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

try {
  await main();
} catch (e) {
  console.error(e);
  if (page) {
    try {
      console.error("page text:\n" + (await page.locator("body").innerText()).slice(0, 4000));
      if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "failure.png") });
    } catch {}
  }
  if (server) console.error("server log (tail):\n" + server.log().slice(-4000));
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  for (const c of children) {
    c.removeAllListeners("exit");
    c.kill("SIGKILL");
  }
}
