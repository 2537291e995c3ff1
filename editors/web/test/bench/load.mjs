// The page's load time on loopback, idle and while the server streams to
// other sessions, and the size of what it loads. Started by the `web`
// section of benches/suite.rs, which passes:
//   CODELAB_BIN, MOCK_LLM_BIN, CHROMIUM, WEB_MODULES (playwright-core),
//   DIST (editors/web/dist), WORK (a scratch folder), LOADS (default 10).
// Prints one JSON object on its last line; no figure is asserted.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is required`);
  return v;
};
const require = createRequire(path.join(env("WEB_MODULES"), "bench.js"));
const { chromium } = require("playwright-core");
const BIN = env("CODELAB_BIN");
const MOCK = env("MOCK_LLM_BIN");
const CHROMIUM = env("CHROMIUM");
const DIST = env("DIST");
const WORK = env("WORK");
const LOADS = Number(process.env.LOADS ?? 10);
/** Other sessions streaming while the page loads, and the tokens of each answer. */
const STREAMS = 4;
const TOKENS = 2000;

const children = [];
function start(cmd, args, opts, readyPattern, what) {
  const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${out}`)), 120_000);
    const onData = (d) => {
      out = (out + d.toString()).slice(-20_000);
      const m = out.match(readyPattern);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${what} exited (${code}):\n${out}`)));
  });
}

/** Every file of dist/ with its size and gzip -9 size. */
function bundle() {
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== "files.rs") {
        const bytes = fs.readFileSync(p);
        files.push({ file: path.relative(DIST, p), bytes: bytes.length, gzip: zlib.gzipSync(bytes, { level: 9 }).length });
      }
    }
  };
  walk(DIST);
  // What the first paint needs: the page, and the script and stylesheet it names.
  const html = fs.readFileSync(path.join(DIST, "index.html"), "utf8");
  const named = new Set(["index.html", ...[...html.matchAll(/(?:src|href)="\/([^"]+)"/g)].map((m) => m[1])]);
  const sum = (list, k) => list.reduce((n, f) => n + f[k], 0);
  const first = files.filter((f) => named.has(f.file));
  return { files: files.length, bytes: sum(files, "bytes"), gzip: sum(files, "gzip"), firstPaintBytes: sum(first, "bytes"), firstPaintGzip: sum(first, "gzip") };
}

/** A plain websocket client of `serve`: one session, one answer after another, until stopped. */
async function streamer(wsUrl, token, folder, counter) {
  const socket = new WebSocket(wsUrl, [`codelab-token.${token}`]);
  let next = 0;
  const waiting = new Map();
  let turnDone;
  socket.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.id !== undefined && m.method) socket.send(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: null }));
    else if (m.id !== undefined) waiting.get(m.id)?.(m);
    else if (m.method === "codelab/token") counter.tokens++;
    else if (m.method === "codelab/turnCompleted") turnDone?.();
  };
  await new Promise((r, j) => {
    socket.onopen = r;
    socket.onerror = j;
  });
  const request = (method, params) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      waiting.set(id, (m) => (m.error ? reject(new Error(`${method}: ${JSON.stringify(m.error)}`)) : resolve(m.result)));
      socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  await request("initialize", { processId: null, rootUri: folder, capabilities: {} });
  socket.send(JSON.stringify({ jsonrpc: "2.0", method: "initialized", params: {} }));
  const s = await request("codelab/createSession", { workspaceFolder: folder, agent: "ask", title: "load" });
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const done = new Promise((r) => (turnDone = r));
      await request("codelab/sendMessage", { sessionId: s.id, text: "stream" });
      await done;
      counter.turns++;
    }
  })();
  return async () => {
    stop = true;
    await request("codelab/cancelTurn", { sessionId: s.id }).catch(() => {});
    await loop.catch(() => {});
    socket.close();
  };
}

async function loadOnce(browser, url) {
  // A new context each time: an empty cache, as on a first visit.
  const context = await browser.newContext({ viewport: { width: 1360, height: 800 } });
  const page = await context.newPage();
  const t0 = Date.now();
  await page.goto(url);
  await page.locator("#conn-state[data-state=open]").waitFor({ timeout: 60_000 });
  const connected = Date.now() - t0;
  // Editor ready: Monaco shown and the language client running on the socket
  // (a page without a language client: Monaco shown).
  await page.waitForFunction(() => Boolean(window.codelab?.editor) && (window.codelab.languageClient?.() ?? true), null, { timeout: 60_000 });
  const editor = Date.now() - t0;
  const nav = await page.evaluate(() => performance.getEntriesByType("navigation")[0].toJSON());
  await context.close();
  return { load: nav.loadEventEnd, dcl: nav.domContentLoadedEventEnd, connected, editor };
}

async function main() {
  fs.mkdirSync(WORK, { recursive: true });
  const paced = Array.from({ length: TOKENS }, (_, i) => ({ waitMs: 1, text: `t${i} ` }));
  const replies = Array.from({ length: 400 }, () => ({ chunks: paced }));
  const scriptFile = path.join(WORK, "script.json");
  fs.writeFileSync(scriptFile, JSON.stringify({ replies }));
  const ws = path.join(WORK, "ws");
  fs.mkdirSync(ws, { recursive: true });
  fs.writeFileSync(path.join(ws, "lib.rs"), "fn one() -> u32 {\n    1\n}\n");
  const mock = await start(MOCK, ["--script", scriptFile], {}, /listening on (http:\/\/\S+)/, "mock-llm");
  const serverEnv = { ...process.env, OPENAI_API_KEY: "sk-bench", CODELAB_MODEL: "gpt-4o-mini", OPENAI_BASE_URL: `${mock.match[1]}/v1`, HOME: path.join(WORK, "home"), XDG_CONFIG_HOME: path.join(WORK, "xdg"), RUST_LOG: "warn,codelab_agent::server::http=info" };
  delete serverEnv.ANTHROPIC_API_KEY;
  const server = await start(
    BIN,
    ["--data-dir", path.join(WORK, "data"), "serve", "--listen", "127.0.0.1:0", "--workspace", ws, "--rate-limit", "100000", "--token-rate-limit", "100000000"],
    { env: serverEnv },
    /open the IDE: (http:\/\/\S+)/,
    "codelab-agent serve",
  );
  const url = server.match[1];
  const u = new URL(url);
  const token = new URLSearchParams(u.hash.slice(1)).get("token");
  const folder = new URLSearchParams(u.hash.slice(1)).get("folder");

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"] });
  await loadOnce(browser, url); // warm-up: the browser's own start, the server's first requests
  const idle = [];
  for (let i = 0; i < LOADS; i++) idle.push(await loadOnce(browser, url));

  const counter = { tokens: 0, turns: 0 };
  const stops = await Promise.all(Array.from({ length: STREAMS }, () => streamer(`ws://${u.host}/lsp`, token, folder, counter)));
  const before = counter.tokens;
  // Wait until every stream is flowing.
  while (counter.tokens - before < STREAMS * 50) await new Promise((r) => setTimeout(r, 20));
  const loaded = [];
  const tokensAt = counter.tokens;
  const t0 = Date.now();
  for (let i = 0; i < LOADS; i++) loaded.push(await loadOnce(browser, url));
  const secs = (Date.now() - t0) / 1000;
  const streamed = counter.tokens - tokensAt;
  for (const stop of stops) await stop();
  await browser.close();
  console.log(JSON.stringify({ loads: LOADS, streams: STREAMS, idle, loaded, streamedTokens: streamed, tokensPerSec: Math.round(streamed / secs), bundle: bundle() }));
}

try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  for (const c of children) {
    c.removeAllListeners("exit");
    c.kill("SIGKILL");
  }
}
