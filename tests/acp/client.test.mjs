// codelab-agent as an ACP agent, driven by the official TypeScript client SDK
// (@agentclientprotocol/sdk) against the real binary and the real mock-llm
// process. Run by tests/acp.rs (which installs the npm packages and passes
// CODELAB_BIN and MOCK_LLM_BIN); each step waits for what it expects, never
// for time to pass.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Readable, Writable } from "node:stream";
import { test } from "node:test";

import * as acp from "@agentclientprotocol/sdk";

const CODELAB_BIN = process.env.CODELAB_BIN;
const MOCK_LLM_BIN = process.env.MOCK_LLM_BIN;
const STEP_TIMEOUT_MS = 30_000;

/** A scripted reply of mock-llm that answers a request whose last message contains `match`. */
const when = (match, reply) => ({ match, ...reply });
const text = (...parts) => ({
  chunks: parts.map((t, i) => (i === 0 ? { text: t } : { waitMs: 300, text: t })),
});
const call = (id, name, args) => ({
  chunks: [{ toolCall: { id, name, arguments: args } }],
});

const SCRIPT = {
  replies: [
    when("Say hello", text("Hello ", "from ", "the mock.")),
    when("Write hello.txt please", call("w1", "write_file", { path: "hello.txt", content: "hi\n" })),
    when("Created hello.txt", text("Done: hello.txt written.")),
    when("Write secret.txt please", call("w2", "write_file", { path: "secret.txt", content: "s\n" })),
    when("The user rejected this call", text("Understood, not writing it.")),
    when("Ask me", call("q1", "ask_followup_question", { question: "Which color?", suggestions: ["red", "blue"] })),
    when("The user answered: blue", text("Blue it is.")),
    when("Stream forever", { chunks: [{ text: "Partial answer" }, { stall: true }] }),
    when("Write pending.txt please", call("w3", "write_file", { path: "pending.txt", content: "p\n" })),
    when("Read the draft @draft.txt", call("d1", "read_file", { path: "draft.txt" })),
    when("unsaved in the editor", text("The draft is unsaved.")),
    when("Read plan.txt please", call("p1", "read_file", { path: "plan.txt" })),
    when("only in the editor buffer", text("The plan is only in the buffer.")),
    when("Run the echo please", call("t1", "execute_command", { command: "echo from-terminal; echo $((40+2))" })),
    when("from-terminal", text("The terminal said 42.")),
    when("Run the sleeper please", call("t2", "execute_command", { command: "echo sleeping; exec sleep 600" })),
    when("Write notes.txt twice", call("a1", "write_file", { path: "notes.txt", content: "one\n" })),
    when("Created notes.txt", call("a2", "write_file", { path: "notes.txt", content: "two\n" })),
    when("Replaced the content of notes.txt", text("Both written.")),
    when("Write x1.txt then x2.txt", call("r1", "write_file", { path: "x1.txt", content: "1\n" })),
    // r1's rejection carries the feedback; r2 meets the session deny rule.
    when("rejects every write_file call", call("r2", "write_file", { path: "x2.txt", content: "2\n" })),
    when("session rule: deny write_file", text("No more writes.")),
    when("After the restart", text("Still here.")),
    // Questions in forms (elicitation).
    when("Pick a color", call("e1", "ask_followup_question", { question: "Which color?", suggestions: ["red", "blue"] })),
    when("The user answered: red", text("Red it is.")),
    when("Pick another color", call("e2", "ask_followup_question", { question: "Which other color?", suggestions: ["red", "blue"] })),
    when("The user answered: teal", text("Teal it is.")),
    when("Name the file", call("e3", "ask_followup_question", { question: "Which file name?" })),
    when("The user answered: The user chose not to answer.", text("No name then.")),
    when("Pick a last color", call("e4", "ask_followup_question", { question: "Which last color?", suggestions: ["red"] })),
  ],
};

/** Resolves with `promise`, or fails the step after a bound. */
function bounded(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** mock-llm as a process, playing `replies`: its URL once it listens. */
async function startMock(dir, replies = SCRIPT) {
  const script = path.join(dir, "script.json");
  fs.writeFileSync(script, JSON.stringify(replies));
  const child = spawn(MOCK_LLM_BIN, ["--script", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const url = await bounded(
    new Promise((resolve, reject) => {
      child.stdout.on("data", (d) => {
        out += d;
        const m = out.match(/listening on (\S+)/);
        if (m) resolve(m[1]);
      });
      child.on("exit", (code) => reject(new Error(`mock-llm exited with ${code}`)));
    }),
    "mock-llm to listen",
  );
  return {
    url,
    async requests() {
      return (await fetch(`${url}/_mock/requests`)).json();
    },
    async violations() {
      return (await fetch(`${url}/_mock/violations`)).json();
    },
    stop() {
      child.kill();
    },
  };
}

/** Things that arrive, and waits for the one a step expects. */
class Inbox {
  constructor() {
    this.items = [];
    this.waiters = [];
  }
  push(item) {
    this.items.push(item);
    for (const w of [...this.waiters]) {
      if (w.pred(item)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(item);
      }
    }
  }
  /** The first item (from `from` on) matching `pred`, now or when it arrives. */
  waitFor(pred, what, from = 0) {
    const found = this.items.slice(from).find(pred);
    if (found) return Promise.resolve(found);
    return bounded(new Promise((resolve) => this.waiters.push({ pred, resolve })), what);
  }
}

/** A pass-through of newline-delimited JSON that pushes each message into `inbox`. */
function tap(inbox) {
  const decoder = new TextDecoder();
  let pending = "";
  return new TransformStream({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) if (line.trim()) inbox.push(JSON.parse(line));
      controller.enqueue(chunk);
    },
  });
}

/** codelab-agent acp as a process, with an ACP client connected to it. */
function startAgent({ dataDir, mockUrl }) {
  const child = spawn(CODELAB_BIN, ["--data-dir", dataDir, "--log-level", "debug", "acp"], {
    stdio: ["pipe", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      OPENAI_BASE_URL: `${mockUrl}/v1`,
      OPENAI_API_KEY: "sk-test-key",
      CODELAB_MODEL: "gpt-4o-mini",
      // Through the user's daemon, as editors run it: let it go soon after.
      CODELAB_DAEMON_IDLE_SECS: "30",
    },
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const updates = new Inbox(); // session/update params
  const permissions = new Inbox(); // { params, answer(outcome) }
  const elicitations = new Inbox(); // { params, answer(response), cancelled: Promise }
  const writes = [];
  const reads = [];
  /** Unsaved editor buffers by absolute path; other files are read from disk. */
  const buffers = new Map();
  /** The client's terminals by id: real processes, as an editor runs them. */
  const terminals = new Map();
  const terminalCalls = new Inbox(); // [method, params]
  /** Tool calls whose permission requests are allowed at once (if asked). */
  const allowed = new Set();
  /** The permission requests of those calls. */
  const allowedAsked = [];
  /** Every JSON-RPC message on the wire, as sent and as received. */
  const wire = { sent: new Inbox(), received: new Inbox() };
  const app = acp
    .client({ name: "codelab-acp-test" })
    .onNotification(acp.methods.client.session.update, ({ params }) => updates.push(params))
    .onRequest(acp.methods.client.session.requestPermission, ({ params, signal, requestId }) => {
      if (allowed.has(params.toolCall.toolCallId)) {
        allowedAsked.push(params);
        return { outcome: { outcome: "selected", optionId: "allow_once" } };
      }
      return new Promise((resolve) => {
        const req = { params, requestId, answeredBy: null };
        req.answer = (outcome) => {
          req.answeredBy ??= "the test";
          resolve({ outcome });
        };
        // `$/cancel_request` of this request aborts `signal`: the agent
        // withdrew it, and the client closes its prompt as ACP asks, with
        // the `cancelled` outcome.
        req.withdrawn = new Promise((resolveWithdrawn) =>
          signal.addEventListener("abort", () => {
            req.answeredBy ??= "the withdrawal";
            resolveWithdrawn(signal.reason);
            resolve({ outcome: { outcome: "cancelled" } });
          }),
        );
        permissions.push(req);
      });
    })
    .onRequest(acp.methods.client.elicitation.create, ({ params, signal }) => {
      return new Promise((resolve, reject) => {
        // `$/cancel_request` of this request aborts `signal`; the SDK then
        // answers the agent with a -32800 error.
        const cancelled = new Promise((resolveCancel) =>
          signal.addEventListener("abort", () => {
            resolveCancel(signal.reason);
            reject(signal.reason);
          }),
        );
        elicitations.push({ params, answer: resolve, cancelled });
      });
    })
    .onRequest(acp.methods.client.terminal.create, ({ params }) => {
      const terminalId = `term-${terminals.size + 1}`;
      const child = spawn(params.command, params.args ?? [], { cwd: params.cwd, stdio: ["ignore", "pipe", "pipe"] });
      const t = { child, output: "", status: null, released: false };
      const add = (d) => (t.output += d);
      child.stdout.on("data", add);
      child.stderr.on("data", add);
      t.exited = new Promise((resolve) =>
        child.on("exit", (code, signal) => {
          t.status = { exitCode: code, signal };
          resolve(t.status);
        }),
      );
      terminals.set(terminalId, t);
      terminalCalls.push(["create", { ...params, terminalId }]);
      return { terminalId };
    })
    .onRequest(acp.methods.client.terminal.output, ({ params }) => {
      terminalCalls.push(["output", params]);
      const t = terminals.get(params.terminalId);
      return { output: t.output, truncated: false, exitStatus: t.status };
    })
    .onRequest(acp.methods.client.terminal.waitForExit, async ({ params }) => {
      terminalCalls.push(["waitForExit", params]);
      return terminals.get(params.terminalId).exited;
    })
    .onRequest(acp.methods.client.terminal.kill, ({ params }) => {
      terminalCalls.push(["kill", params]);
      terminals.get(params.terminalId).child.kill("SIGTERM");
      return {};
    })
    .onRequest(acp.methods.client.terminal.release, ({ params }) => {
      terminalCalls.push(["release", params]);
      const t = terminals.get(params.terminalId);
      t.released = true;
      if (t.status === null) t.child.kill("SIGKILL");
      return {};
    })
    .onRequest(acp.methods.client.fs.readTextFile, ({ params }) => {
      reads.push(params);
      return { content: buffers.get(params.path) ?? fs.readFileSync(params.path, "utf8") };
    })
    .onRequest(acp.methods.client.fs.writeTextFile, ({ params }) => {
      writes.push(params);
      fs.writeFileSync(params.path, params.content);
      return {};
    });
  const toAgent = tap(wire.sent);
  // Ends when `close` ends stdin or the agent exits; what was sent is in `wire`.
  toAgent.readable.pipeTo(Writable.toWeb(child.stdin)).catch(() => {});
  const connection = app.connect(
    acp.ndJsonStream(toAgent.writable, Readable.toWeb(child.stdout).pipeThrough(tap(wire.received))),
  );
  const agent = connection.agent;
  return {
    child,
    updates,
    permissions,
    elicitations,
    writes,
    reads,
    buffers,
    terminals,
    terminalCalls,
    allowed,
    allowedAsked,
    wire,
    logs: () => stderr,
    request: (method, params, options) => bounded(agent.request(method, params, options), method),
    notify: (method, params) => agent.notify(method, params),
    /** Ends stdin and waits for the process to exit; its exit code. */
    async close() {
      for (const t of terminals.values()) if (t.status === null) t.child.kill("SIGKILL");
      child.stdin.end();
      const [code] = await bounded(once(child, "exit"), "the agent to exit");
      return code;
    },
  };
}

/** What a list of session/update params shows, in order, as comparable rows. */
function summary(updates) {
  const rows = [];
  for (const { update: u } of updates) {
    const last = rows[rows.length - 1];
    switch (u.sessionUpdate) {
      case "user_message_chunk":
      case "agent_message_chunk": {
        const who = u.sessionUpdate === "user_message_chunk" ? "user" : "agent";
        if (last && last[0] === who) last[1] += u.content.text;
        else rows.push([who, u.content.text]);
        break;
      }
      case "usage_update":
      case "available_commands_update":
      case "session_info_update":
        break; // not part of the conversation (checked on their own)
      case "tool_call":
        rows.push(["tool", u.toolCallId, u.title, u.status ?? "pending"]);
        break;
      case "tool_call_update": {
        const row = rows.find((r) => r[0] === "tool" && r[1] === u.toolCallId);
        if (row && u.status) row[3] = u.status;
        break;
      }
      default:
        rows.push([u.sessionUpdate]);
    }
  }
  return rows;
}

const INIT = {
  protocolVersion: acp.PROTOCOL_VERSION,
  clientCapabilities: { fs: { readTextFile: true, writeTextFile: true }, terminal: true },
  clientInfo: { name: "codelab-acp-test", version: "1.0.0" },
};

test("codelab-agent over ACP with the official TypeScript client", async (t) => {
  assert.ok(CODELAB_BIN && MOCK_LLM_BIN, "CODELAB_BIN and MOCK_LLM_BIN must be set");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "codelab-acp-"));
  const ws = path.join(fs.realpathSync(tmp), "ws");
  fs.mkdirSync(ws);
  const dataDir = path.join(tmp, "data");
  const mock = await startMock(tmp);
  let agent = startAgent({ dataDir, mockUrl: mock.url });
  let sessionId;
  const prompt = (text) =>
    agent.request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text }] });
  // Each step needs the ones before it: the first failure ends the scenario,
  // with the agent's log.
  const step = async (name, fn) => {
    let failure;
    await t.test(name, async () => {
      try {
        await fn();
      } catch (e) {
        failure = e;
        throw e;
      }
    });
    if (failure) {
      process.stderr.write(`--- agent log ---\n${agent.logs()}\n`);
      throw new Error(`stopped: "${name}" failed`);
    }
  };
  try {
    await step("initialize negotiates version 1 and states the capabilities", async () => {
      const init = await agent.request(acp.methods.agent.initialize, INIT);
      assert.equal(init.protocolVersion, 1);
      assert.equal(init.agentCapabilities.loadSession, true);
      assert.equal(init.agentCapabilities.promptCapabilities.embeddedContext, true);
      assert.equal(init.agentCapabilities.promptCapabilities.image, false);
      assert.deepEqual(init.agentCapabilities.sessionCapabilities.list, {});
      assert.deepEqual(init.agentCapabilities.sessionCapabilities.delete, {});
      assert.equal(init.agentInfo.name, "codelab-agent");
      assert.deepEqual(init.authMethods.map((m) => m.id), ["codelab-config"]);
      assert.deepEqual(await agent.request(acp.methods.agent.authenticate, { methodId: "codelab-config" }), {});
    });

    await step("session/new opens a session in the cwd with the agents as modes", async () => {
      const created = await agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
      sessionId = created.sessionId;
      assert.match(sessionId, /^[0-9a-f-]{36}$/);
      assert.equal(created.modes.currentModeId, "orchestrator");
      const ids = created.modes.availableModes.map((m) => m.id);
      for (const id of ["orchestrator", "coder", "architect", "debug", "ask"]) assert.ok(ids.includes(id), ids);
    });

    await step("session/set_mode switches the agent and says so", async () => {
      await agent.request(acp.methods.agent.session.setMode, { sessionId, modeId: "coder" });
      await agent.updates.waitFor(
        (n) => n.update.sessionUpdate === "current_mode_update" && n.update.currentModeId === "coder",
        "current_mode_update",
      );
      await assert.rejects(
        agent.request(acp.methods.agent.session.setMode, { sessionId, modeId: "wizard" }),
        (e) => e.code === -32602 && /unknown mode `wizard`/.test(e.message),
      );
    });

    await step("a prompt streams the reply as message chunks", async () => {
      const from = agent.updates.items.length;
      const res = await prompt("Say hello");
      assert.equal(res.stopReason, "end_turn");
      const chunks = agent.updates.items
        .slice(from)
        .filter((n) => n.sessionId === sessionId && n.update.sessionUpdate === "agent_message_chunk");
      assert.equal(chunks.map((n) => n.update.content.text).join(""), "Hello from the mock.");
      assert.ok(chunks.length >= 2, `streamed in ${chunks.length} chunk(s)`);
      // The first message titles the session, announced before the answer.
      const info = agent.updates.items
        .slice(from)
        .filter((n) => n.sessionId === sessionId && n.update.sessionUpdate === "session_info_update");
      assert.equal(info.length, 1, JSON.stringify(info));
      assert.equal(info[0].update.title, "Say hello");
      assert.ok(!Number.isNaN(Date.parse(info[0].update.updatedAt)), JSON.stringify(info[0]));
    });

    await step("an edit allowed once is written through the client", async () => {
      const from = agent.updates.items.length;
      const answered = prompt("Write hello.txt please");
      const req = await agent.permissions.waitFor(() => true, "permission for w1");
      const target = path.join(ws, "hello.txt");
      assert.equal(req.params.sessionId, sessionId);
      assert.deepEqual(
        req.params.options.map((o) => [o.optionId, o.kind]),
        [
          ["allow_once", "allow_once"],
          ["allow_always", "allow_always"],
          ["reject_once", "reject_once"],
          ["reject_always", "reject_always"],
        ],
      );
      const tc = req.params.toolCall;
      assert.equal(tc.toolCallId, "w1");
      assert.equal(tc.kind, "edit");
      assert.equal(tc.title, "Write hello.txt");
      // A new file: the edit starts at its first line.
      assert.deepEqual(tc.locations, [{ path: target, line: 1 }]);
      assert.equal(tc.content.length, 1);
      assert.equal(tc.content[0].type, "diff");
      assert.equal(tc.content[0].path, target);
      assert.equal(tc.content[0].newText, "hi\n");
      assert.ok(tc.content[0].oldText == null, "a new file has no old text");
      assert.equal(fs.existsSync(target), false, "nothing written before the decision");
      req.answer({ outcome: "selected", optionId: "allow_once" });
      assert.equal((await answered).stopReason, "end_turn");
      assert.deepEqual(agent.writes, [{ sessionId, path: target, content: "hi\n" }]);
      assert.equal(fs.readFileSync(target, "utf8"), "hi\n");
      const w1 = agent.updates.items
        .slice(from)
        .map((n) => n.update)
        .filter((u) => u.toolCallId === "w1");
      assert.equal(w1[0].sessionUpdate, "tool_call");
      assert.deepEqual(
        w1.map((u) => u.status).filter(Boolean),
        ["in_progress", "completed"],
      );
      const last = w1[w1.length - 1];
      assert.equal(last.content[0].type, "diff", "the diff stays on the completed call");
      assert.match(last.content[1].content.text, /Created hello.txt/);
      assert.deepEqual(summary(agent.updates.items.slice(from)).slice(-1), [["agent", "Done: hello.txt written."]]);
      // After each model response: the context used, the window and the session's cost.
      const usage = agent.updates.items.slice(from).filter((n) => n.update.sessionUpdate === "usage_update");
      assert.ok(usage.length >= 2, JSON.stringify(usage));
      for (const { update: u } of usage) {
        assert.ok(u.used > 0 && u.size >= u.used && u.cost.currency === "USD", JSON.stringify(u));
      }
    });

    await step("an edit rejected once is not run and the model reads why", async () => {
      const answered = prompt("Write secret.txt please");
      const req = await agent.permissions.waitFor((r) => r.params.toolCall.toolCallId === "w2", "permission for w2");
      req.answer({ outcome: "selected", optionId: "reject_once" });
      assert.equal((await answered).stopReason, "end_turn");
      assert.equal(fs.existsSync(path.join(ws, "secret.txt")), false);
      await agent.updates.waitFor(
        (n) => n.update.toolCallId === "w2" && n.update.status === "failed",
        "w2 failed",
      );
      const requests = await mock.requests();
      const messages = requests[requests.length - 1].body.messages;
      const result = messages.find((m) => m.role === "tool" && m.tool_call_id === "w2");
      assert.ok(result, JSON.stringify(messages));
      assert.match(JSON.stringify(result.content), /The user rejected this call; it was not run\./);
    });

    await step("a question is a permission request whose options are its suggestions", async () => {
      const answered = prompt("Ask me");
      const req = await agent.permissions.waitFor((r) => r.params.toolCall.toolCallId === "q1", "question q1");
      assert.equal(req.params.toolCall.title, "Which color?");
      assert.deepEqual(
        req.params.options.map((o) => o.name),
        ["red", "blue", "Don't answer"],
      );
      const blue = req.params.options.find((o) => o.name === "blue");
      req.answer({ outcome: "selected", optionId: blue.optionId });
      assert.equal((await answered).stopReason, "end_turn");
      await agent.updates.waitFor(
        (n) => n.update.sessionUpdate === "agent_message_chunk" && n.update.content.text.includes("Blue it is."),
        "the answer's reply",
      );
    });

    await step("session/cancel during streaming ends the turn as cancelled", async () => {
      const from = agent.updates.items.length;
      const answered = prompt("Stream forever");
      await agent.updates.waitFor(
        (n) => n.update.sessionUpdate === "agent_message_chunk" && n.update.content.text.includes("Partial"),
        "the first chunk",
        from,
      );
      await agent.notify(acp.methods.agent.session.cancel, { sessionId });
      assert.equal((await answered).stopReason, "cancelled");
    });

    await step("session/cancel during a pending permission ends the turn as cancelled", async () => {
      const answered = prompt("Write pending.txt please");
      const req = await agent.permissions.waitFor((r) => r.params.toolCall.toolCallId === "w3", "permission for w3");
      await agent.notify(acp.methods.agent.session.cancel, { sessionId });
      // ACP: a client that cancels answers its pending permission requests `cancelled`.
      req.answer({ outcome: "cancelled" });
      assert.equal((await answered).stopReason, "cancelled");
      await agent.updates.waitFor(
        (n) => n.update.toolCallId === "w3" && n.update.status === "failed",
        "w3 shown as not run",
      );
      assert.equal(fs.existsSync(path.join(ws, "pending.txt")), false);
      assert.deepEqual(await mock.violations(), []);
    });

    await step("a linked file is read from the editor's unsaved buffer", async () => {
      const draft = path.join(ws, "draft.txt");
      fs.writeFileSync(draft, "saved on disk\n");
      agent.buffers.set(draft, "unsaved in the editor\n");
      const res = await agent.request(acp.methods.agent.session.prompt, {
        sessionId,
        prompt: [
          { type: "text", text: "Read the draft " },
          { type: "resource_link", name: "draft.txt", uri: `file://${draft}` },
        ],
      });
      assert.equal(res.stopReason, "end_turn");
      // Read when the prompt linked it, and again when read_file read it.
      assert.deepEqual(
        agent.reads.filter((r) => r.path === draft),
        [{ sessionId, path: draft }, { sessionId, path: draft }],
      );
      // The model read the buffer, not the disk (its reply matched on it).
      const requests = await mock.requests();
      const result = requests[requests.length - 1].body.messages.find((m) => m.tool_call_id === "d1");
      assert.match(JSON.stringify(result.content), /unsaved in the editor/);
      assert.doesNotMatch(JSON.stringify(result.content), /saved on disk/);
    });

    await step("read_file of a file the prompt does not link reads the editor's unsaved buffer", async () => {
      const plan = path.join(ws, "plan.txt");
      fs.writeFileSync(plan, "the plan as saved on disk\n");
      agent.buffers.set(plan, "plan kept only in the editor buffer\n");
      const before = agent.reads.length;
      assert.equal((await prompt("Read plan.txt please")).stopReason, "end_turn");
      assert.deepEqual(agent.reads.slice(before), [{ sessionId, path: plan }]);
      const requests = await mock.requests();
      const result = requests[requests.length - 1].body.messages.find((m) => m.tool_call_id === "p1");
      assert.match(JSON.stringify(result.content), /plan kept only in the editor buffer/);
      assert.doesNotMatch(JSON.stringify(result.content), /saved on disk/);
      // The editor saves: the next read sees what it now holds.
      agent.buffers.delete(plan);
    });

    await step("execute_command runs in the client's terminal, through the launcher", async () => {
      agent.allowed.add("t1");
      const from = agent.updates.items.length;
      assert.equal((await prompt("Run the echo please")).stopReason, "end_turn");
      const [, created] = await agent.terminalCalls.waitFor(([m]) => m === "create", "terminal/create");
      assert.equal(created.sessionId, sessionId);
      assert.equal(created.cwd, ws);
      // Wrapped by the command launcher, as a command run here is.
      assert.equal(created.args[0], "__launch");
      assert.equal(JSON.parse(created.args[1]).command, "echo from-terminal; echo $((40+2))");
      const id = created.terminalId;
      const shown = agent.updates.items
        .slice(from)
        .map((n) => n.update)
        .filter((u) => u.toolCallId === "t1" && (u.content ?? []).some((c) => c.type === "terminal"));
      assert.ok(shown.length >= 1, "the tool call shows the terminal");
      assert.deepEqual(shown[0].content.find((c) => c.type === "terminal"), { type: "terminal", terminalId: id });
      const done = shown[shown.length - 1];
      assert.equal(done.status, "completed", JSON.stringify(shown));
      assert.deepEqual(
        agent.terminalCalls.items.filter(([, p]) => p.terminalId === id).map(([m]) => m),
        ["create", "waitForExit", "output", "release"],
      );
      const requests = await mock.requests();
      const result = requests[requests.length - 1].body.messages.find((m) => m.tool_call_id === "t1");
      assert.match(JSON.stringify(result.content), /Exit code: 0\\nfrom-terminal\\n42/);
      assert.equal(agent.terminals.get(id).status.exitCode, 0);
    });

    await step("a cancel kills the command in the client's terminal and releases it", async () => {
      agent.allowed.add("t2");
      const answered = prompt("Run the sleeper please");
      const [, created] = await agent.terminalCalls.waitFor(
        ([m, p]) => m === "create" && JSON.parse(p.args[1]).command.includes("sleep 600"),
        "terminal/create of the sleeper",
      );
      const t = agent.terminals.get(created.terminalId);
      // Running: its first line is out.
      await bounded(
        new Promise((resolve) => {
          const check = () => (t.output.includes("sleeping") ? resolve() : t.child.stdout.once("data", check));
          check();
        }),
        "the sleeper to start",
      );
      await agent.notify(acp.methods.agent.session.cancel, { sessionId });
      assert.equal((await answered).stopReason, "cancelled");
      await agent.terminalCalls.waitFor(
        ([m, p]) => m === "release" && p.terminalId === created.terminalId,
        "terminal/release of the sleeper",
      );
      const calls = agent.terminalCalls.items.filter(([, p]) => p.terminalId === created.terminalId).map(([m]) => m);
      assert.ok(calls.includes("kill"), JSON.stringify(calls));
      assert.ok(calls.indexOf("kill") < calls.indexOf("release"), JSON.stringify(calls));
      // Killed by terminal/kill (SIGTERM), not by the release.
      const status = await bounded(t.exited, "the sleeper to exit");
      assert.notEqual(status.exitCode, 0, JSON.stringify(status));
      await agent.updates.waitFor((n) => n.update.toolCallId === "t2" && n.update.status === "failed", "t2 failed");
    });

    await step("allow_always lets the same edit run again without asking", async () => {
      const asked = agent.permissions.items.length;
      const answered = prompt("Write notes.txt twice");
      const req = await agent.permissions.waitFor((r) => r.params.toolCall.toolCallId === "a1", "permission for a1");
      req.answer({ outcome: "selected", optionId: "allow_always" });
      assert.equal((await answered).stopReason, "end_turn");
      assert.deepEqual(
        agent.permissions.items.slice(asked).map((r) => r.params.toolCall.toolCallId),
        ["a1"],
        "a2 ran without a permission request",
      );
      assert.equal(fs.readFileSync(path.join(ws, "notes.txt"), "utf8"), "two\n");
    });

    await step("reject_always rejects later calls of the tool without asking", async () => {
      const asked = agent.permissions.items.length;
      const answered = prompt("Write x1.txt then x2.txt");
      const req = await agent.permissions.waitFor((r) => r.params.toolCall.toolCallId === "r1", "permission for r1");
      req.answer({ outcome: "selected", optionId: "reject_always" });
      assert.equal((await answered).stopReason, "end_turn");
      assert.deepEqual(
        agent.permissions.items.slice(asked).map((r) => r.params.toolCall.toolCallId),
        ["r1"],
        "r2 was rejected without a permission request",
      );
      for (const id of ["r1", "r2"]) {
        await agent.updates.waitFor((n) => n.update.toolCallId === id && n.update.status === "failed", `${id} failed`);
      }
      assert.equal(fs.existsSync(path.join(ws, "x1.txt")), false);
      assert.equal(fs.existsSync(path.join(ws, "x2.txt")), false);
      const requests = await mock.requests();
      const messages = requests[requests.length - 1].body.messages;
      const r1 = messages.find((m) => m.role === "tool" && m.tool_call_id === "r1");
      assert.match(JSON.stringify(r1.content), /The user rejects every write_file call for the rest of this session/);
      // A session deny rule, which any client of the session sees (getPolicy).
      const r2 = messages.find((m) => m.role === "tool" && m.tool_call_id === "r2");
      assert.match(JSON.stringify(r2.content), /session rule: deny write_file/);
    });

    await step("the title was announced once: the later prompts kept it", async () => {
      const all = agent.updates.items.filter((n) => n.update.sessionUpdate === "session_info_update");
      assert.deepEqual(all.map((n) => n.update.title), ["Say hello"]);
    });

    await step("the agent exits cleanly when the client closes", async () => {
      assert.equal(await agent.close(), 0, agent.logs());
    });

    agent = startAgent({ dataDir, mockUrl: mock.url });
    await agent.request(acp.methods.agent.initialize, INIT);

    await step("session/list shows the session", async () => {
      const list = await agent.request(acp.methods.agent.session.list, { cwd: ws });
      const found = list.sessions.find((s) => s.sessionId === sessionId);
      assert.ok(found, JSON.stringify(list));
      assert.equal(found.cwd, ws);
      assert.equal(found.title, "Say hello");
    });

    await step("session/load replays exactly the history before answering", async () => {
      const loaded = await agent.request(acp.methods.agent.session.load, { sessionId, cwd: ws, mcpServers: [] });
      assert.equal(loaded.modes.currentModeId, "coder");
      const replayed = agent.updates.items.filter((n) => n.sessionId === sessionId);
      assert.deepEqual(summary(replayed), [
        ["user", "Say hello"],
        ["agent", "Hello from the mock."],
        ["user", "Write hello.txt please"],
        ["tool", "w1", "Write hello.txt", "completed"],
        ["agent", "Done: hello.txt written."],
        ["user", "Write secret.txt please"],
        ["tool", "w2", "Write secret.txt", "failed"],
        ["agent", "Understood, not writing it."],
        ["user", "Ask me"],
        ["tool", "q1", "Ask", "completed"],
        ["agent", "Blue it is."],
        ["user", "Stream forever"],
        ["agent", "Partial answer"],
        ["user", "Write pending.txt please"],
        ["tool", "w3", "Write pending.txt", "failed"],
        ["user", "Read the draft @draft.txt"],
        ["tool", "d1", "Read draft.txt", "completed"],
        ["agent", "The draft is unsaved."],
        ["user", "Read plan.txt please"],
        ["tool", "p1", "Read plan.txt", "completed"],
        ["agent", "The plan is only in the buffer."],
        ["user", "Run the echo please"],
        ["tool", "t1", "Run `echo from-terminal; echo $((40+2))`", "completed"],
        ["agent", "The terminal said 42."],
        ["user", "Run the sleeper please"],
        ["tool", "t2", "Run `echo sleeping; exec sleep 600`", "failed"],
        ["user", "Write notes.txt twice"],
        ["tool", "a1", "Write notes.txt", "completed"],
        ["tool", "a2", "Write notes.txt", "completed"],
        ["agent", "Both written."],
        ["user", "Write x1.txt then x2.txt"],
        ["tool", "r1", "Write x1.txt", "failed"],
        ["tool", "r2", "Write x2.txt", "failed"],
        ["agent", "No more writes."],
      ]);
      // The slash commands are offered for the loaded session.
      const offered = await agent.updates.waitFor(
        (n) => n.sessionId === sessionId && n.update.sessionUpdate === "available_commands_update",
        "available_commands_update",
      );
      assert.deepEqual(offered.update.availableCommands.map((c) => c.name), ["compact", "checkpoints", "restore", "agent"]);
    });

    await step("a loaded session goes on with its history", async () => {
      const from = agent.updates.items.length;
      assert.equal((await prompt("After the restart")).stopReason, "end_turn");
      assert.deepEqual(summary(agent.updates.items.slice(from)), [["agent", "Still here."]]);
      const requests = await mock.requests();
      const sent = JSON.stringify(requests[requests.length - 1].body.messages);
      for (const earlier of ["Say hello", "Write secret.txt please", "Stream forever"]) {
        assert.ok(sent.includes(earlier), `the model sees "${earlier}"`);
      }
    });

    await step("session/delete deletes the session for every client", async () => {
      assert.deepEqual(await agent.request(acp.methods.agent.session.delete, { sessionId }), {});
      const list = await agent.request(acp.methods.agent.session.list, { cwd: ws });
      assert.equal(list.sessions.find((s) => s.sessionId === sessionId), undefined, JSON.stringify(list));
      // Deleting it again: the agent answers -32002 (not found; tests/acp.rs
      // checks the wire), which ACP and the SDK take as the same end state.
      assert.deepEqual(await agent.request(acp.methods.agent.session.delete, { sessionId }), {});
      await assert.rejects(
        agent.request(acp.methods.agent.session.load, { sessionId, cwd: ws, mcpServers: [] }),
        (e) => e.code === -32002,
      );
      assert.equal(await agent.close(), 0, agent.logs());
      assert.deepEqual(await mock.violations(), []);
    });
  } finally {
    agent.child.kill();
    mock.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("questions are forms for a client that offers elicitation", async (t) => {
  assert.ok(CODELAB_BIN && MOCK_LLM_BIN, "CODELAB_BIN and MOCK_LLM_BIN must be set");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "codelab-acp-elicit-"));
  const ws = path.join(fs.realpathSync(tmp), "ws");
  fs.mkdirSync(ws);
  const mock = await startMock(tmp);
  const agent = startAgent({ dataDir: path.join(tmp, "data"), mockUrl: mock.url });
  let sessionId;
  const prompt = (text) =>
    agent.request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text }] });
  /** What the model read as the result of tool call `id`, in its latest request. */
  const resultSeen = async (id) => {
    const requests = await mock.requests();
    const messages = requests[requests.length - 1].body.messages;
    const result = messages.find((m) => m.role === "tool" && m.tool_call_id === id);
    assert.ok(result, JSON.stringify(messages));
    return JSON.stringify(result.content);
  };
  let failed = false;
  const step = async (name, fn) => {
    if (failed) throw new Error(`stopped before "${name}"`);
    await t.test(name, async () => {
      try {
        await fn();
      } catch (e) {
        failed = true;
        process.stderr.write(`--- agent log ---\n${agent.logs()}\n`);
        throw e;
      }
    });
  };
  try {
    await step("a client offering form elicitation gets a session", async () => {
      await agent.request(acp.methods.agent.initialize, {
        ...INIT,
        clientCapabilities: { ...INIT.clientCapabilities, elicitation: { form: {} } },
      });
      sessionId = (await agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] })).sessionId;
    });

    await step("a question is a form: the chosen suggestion is the answer", async () => {
      const answered = prompt("Pick a color");
      const form = await agent.elicitations.waitFor((e) => e.params.toolCallId === "e1", "the form of e1");
      assert.equal(form.params.sessionId, sessionId);
      assert.equal(form.params.mode, "form");
      assert.equal(form.params.message, "Which color?");
      const schema = form.params.requestedSchema;
      assert.deepEqual(schema.properties.choice.enum, ["red", "blue"]);
      assert.equal(schema.properties.answer.type, "string");
      // Not a permission request as well.
      assert.equal(agent.permissions.items.length, 0);
      form.answer({ action: "accept", content: { choice: "red" } });
      assert.equal((await answered).stopReason, "end_turn");
      assert.match(await resultSeen("e1"), /The user answered: red/);
      await agent.updates.waitFor(
        (n) => n.update.sessionUpdate === "agent_message_chunk" && n.update.content.text.includes("Red it is."),
        "the reply to red",
      );
      await agent.updates.waitFor((n) => n.update.toolCallId === "e1" && n.update.status === "completed", "e1 completed");
    });

    await step("free text in the form is the answer", async () => {
      const answered = prompt("Pick another color");
      const form = await agent.elicitations.waitFor((e) => e.params.toolCallId === "e2", "the form of e2");
      form.answer({ action: "accept", content: { answer: "teal" } });
      assert.equal((await answered).stopReason, "end_turn");
      assert.match(await resultSeen("e2"), /The user answered: teal/);
    });

    await step("a declined form tells the model the user did not answer", async () => {
      const answered = prompt("Name the file");
      const form = await agent.elicitations.waitFor((e) => e.params.toolCallId === "e3", "the form of e3");
      // No suggestions: one required text field.
      assert.deepEqual(Object.keys(form.params.requestedSchema.properties), ["answer"]);
      assert.deepEqual(form.params.requestedSchema.required, ["answer"]);
      form.answer({ action: "decline" });
      assert.equal((await answered).stopReason, "end_turn");
      assert.match(await resultSeen("e3"), /The user chose not to answer\./);
    });

    await step("cancelling the turn cancels its pending form", async () => {
      const answered = prompt("Pick a last color");
      const form = await agent.elicitations.waitFor((e) => e.params.toolCallId === "e4", "the form of e4");
      await agent.notify(acp.methods.agent.session.cancel, { sessionId });
      assert.equal((await answered).stopReason, "cancelled");
      const reason = await bounded(form.cancelled, "$/cancel_request of the form");
      assert.equal(reason.code, -32800);
      await agent.updates.waitFor((n) => n.update.toolCallId === "e4" && n.update.status === "failed", "e4 not answered");
      assert.equal(await agent.close(), 0, agent.logs());
      assert.deepEqual(await mock.violations(), []);
    });
  } finally {
    agent.child.kill();
    mock.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

/** The model's side of the test below. */
const MORE = {
  replies: [
    when("Read kinds.txt please", call("k1", "read_file", { path: "kinds.txt" })),
    when("read-marker-1", text("Read it.")),
    when("Search for the needle please", call("k2", "search_in_code", { regex: "needle-[0-9]+" })),
    when("needle-42", text("Found it.")),
    when("Hand over to ask please", call("k3", "switch_mode", { mode: "ask", reason: "only questions now" })),
    when("Continue as ask", text("Asking now.")),
    when("Rewrite old.txt please", call("k4", "write_file", { path: "old.txt", content: "after\n" })),
    when("Replaced the content of old.txt", text("Rewritten.")),
    when("Summarise the attached file", text("It says embedded.")),
    when("Write held.txt please", call("k5", "write_file", { path: "held.txt", content: "h\n" })),
    when("Write dropped.txt please", call("k6", "write_file", { path: "dropped.txt", content: "d\n" })),
    when("Echo hi please", call("k7", "execute_command", { command: "echo hi" })),
    when("Exit code: 0", text("It said hi.")),
  ],
};

test("tool kinds, old text, embedded context, cancels and checkpoints", async (t) => {
  assert.ok(CODELAB_BIN && MOCK_LLM_BIN, "CODELAB_BIN and MOCK_LLM_BIN must be set");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "codelab-acp-more-"));
  const ws = path.join(fs.realpathSync(tmp), "ws");
  fs.mkdirSync(ws);
  const dataDir = path.join(tmp, "data");
  const mock = await startMock(tmp, MORE);
  const agent = startAgent({ dataDir, mockUrl: mock.url });
  let other; // a second connection, whose client has no terminal
  let sessionId;
  const prompt = (text, options) =>
    agent.request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text }] }, options);
  /** The updates of tool call `id` from `from` on. */
  const updatesOf = (client, id, from = 0) =>
    client.updates.items
      .slice(from)
      .map((n) => n.update)
      .filter((u) => u.toolCallId === id);
  /** What the model read as the result of tool call `id`, in its latest request. */
  const resultSeen = async (id) => {
    const requests = await mock.requests();
    const messages = requests[requests.length - 1].body.messages;
    const result = messages.find((m) => m.role === "tool" && m.tool_call_id === id);
    assert.ok(result, JSON.stringify(messages));
    return JSON.stringify(result.content);
  };
  let failed = false;
  const step = async (name, fn) => {
    if (failed) throw new Error(`stopped before "${name}"`);
    await t.test(name, async () => {
      try {
        await fn();
      } catch (e) {
        failed = true;
        process.stderr.write(`--- agent log ---\n${agent.logs()}\n${other ? other.logs() : ""}\n`);
        throw e;
      }
    });
  };
  try {
    await step("initialize with a newer protocol version is answered with version 1", async () => {
      const init = await agent.request(acp.methods.agent.initialize, { ...INIT, protocolVersion: 2 });
      assert.equal(init.protocolVersion, 1);
      const created = await agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
      sessionId = created.sessionId;
      // The coder agent has the tools below; the orchestrator delegates.
      await agent.request(acp.methods.agent.session.setMode, { sessionId, modeId: "coder" });
    });

    await step("read_file is a tool call of kind read at its file", async () => {
      fs.writeFileSync(path.join(ws, "kinds.txt"), "read-marker-1\n");
      const from = agent.updates.items.length;
      assert.equal((await prompt("Read kinds.txt please")).stopReason, "end_turn");
      const k1 = updatesOf(agent, "k1", from);
      assert.equal(k1[0].sessionUpdate, "tool_call", JSON.stringify(k1));
      assert.equal(k1[0].kind, "read");
      assert.deepEqual(k1[0].locations.map((l) => l.path), [path.join(ws, "kinds.txt")]);
      assert.equal(k1[k1.length - 1].status, "completed", JSON.stringify(k1));
      assert.match(await resultSeen("k1"), /read-marker-1/);
    });

    await step("search_in_code is a tool call of kind search", async () => {
      fs.writeFileSync(path.join(ws, "search.txt"), "hay\nneedle-42\nhay\n");
      const from = agent.updates.items.length;
      assert.equal((await prompt("Search for the needle please")).stopReason, "end_turn");
      const k2 = updatesOf(agent, "k2", from);
      assert.equal(k2[0].sessionUpdate, "tool_call", JSON.stringify(k2));
      assert.equal(k2[0].kind, "search");
      assert.equal(k2[k2.length - 1].status, "completed", JSON.stringify(k2));
      assert.match(await resultSeen("k2"), /search\.txt.*needle-42/);
    });

    await step("switch_mode is a tool call of kind switch_mode, and the mode follows", async () => {
      const from = agent.updates.items.length;
      assert.equal((await prompt("Hand over to ask please")).stopReason, "end_turn");
      const k3 = updatesOf(agent, "k3", from);
      assert.equal(k3[0].sessionUpdate, "tool_call", JSON.stringify(k3));
      assert.equal(k3[0].kind, "switch_mode");
      assert.equal(k3[k3.length - 1].status, "completed", JSON.stringify(k3));
      await agent.updates.waitFor(
        (n) => n.update.sessionUpdate === "current_mode_update" && n.update.currentModeId === "ask",
        "current_mode_update to ask",
        from,
      );
      // Back to the coder, which may write.
      await agent.request(acp.methods.agent.session.setMode, { sessionId, modeId: "coder" });
    });

    const old = path.join(ws, "old.txt");
    await step("an edit of an existing file shows its old text in the diff", async () => {
      fs.writeFileSync(old, "before\n");
      const written = agent.writes.length;
      const answered = prompt("Rewrite old.txt please");
      const req = await agent.permissions.waitFor((r) => r.params.toolCall.toolCallId === "k4", "permission for k4");
      const tc = req.params.toolCall;
      assert.equal(tc.kind, "edit");
      assert.deepEqual(tc.content, [{ type: "diff", path: old, oldText: "before\n", newText: "after\n" }]);
      assert.equal(fs.readFileSync(old, "utf8"), "before\n", "nothing written before the decision");
      req.answer({ outcome: "selected", optionId: "allow_once" });
      assert.equal((await answered).stopReason, "end_turn");
      assert.deepEqual(agent.writes.slice(written), [{ sessionId, path: old, content: "after\n" }]);
      assert.equal(fs.readFileSync(old, "utf8"), "after\n");
    });

    await step("/checkpoints lists the edit's turn and /restore puts the old text back", async () => {
      let from = agent.updates.items.length;
      assert.equal((await prompt("/checkpoints")).stopReason, "end_turn");
      const rows = summary(agent.updates.items.slice(from));
      assert.equal(rows.length, 1, JSON.stringify(rows));
      const [[who, listed]] = rows;
      assert.equal(who, "agent");
      const turns = [...listed.matchAll(/^(\d+)\. turn (\S+): (.*)$/gm)];
      assert.equal(turns.length, 1, listed);
      const [, n, turn, files] = turns[0];
      assert.equal(n, "1");
      assert.match(files, /^old\.txt \(/, listed);
      const written = agent.writes.length;
      from = agent.updates.items.length;
      assert.equal((await prompt("/restore 1")).stopReason, "end_turn");
      const restored = summary(agent.updates.items.slice(from));
      assert.equal(restored.length, 1, JSON.stringify(restored));
      const [[, said]] = restored;
      assert.equal(said, `Restored 1 file(s) as they were before turn ${turn}: old.txt.`);
      // Restored through the client's fs/write_text_file, as the edit was.
      assert.deepEqual(agent.writes.slice(written), [{ sessionId, path: old, content: "before\n" }]);
      assert.equal(fs.readFileSync(old, "utf8"), "before\n");
    });

    await step("an embedded resource reaches the model as editor context", async () => {
      // Not on disk: its text can only come from the prompt.
      const uri = `file://${path.join(ws, "emb.md")}`;
      const res = await agent.request(acp.methods.agent.session.prompt, {
        sessionId,
        prompt: [
          { type: "text", text: "Summarise the attached file " },
          { type: "resource", resource: { uri, mimeType: "text/markdown", text: "embedded-context-9\n" } },
        ],
      });
      assert.equal(res.stopReason, "end_turn");
      const requests = await mock.requests();
      const messages = requests[requests.length - 1].body.messages;
      const user = messages[messages.length - 1];
      assert.equal(user.role, "user");
      assert.match(JSON.stringify(user.content), /<resource path=\\"emb\.md\\">\\nembedded-context-9\\n<\/resource>/);
    });

    await step("session/cancel withdraws a pending permission request before the client answers", async () => {
      const answered = prompt("Write held.txt please");
      const req = await agent.permissions.waitFor((r) => r.params.toolCall.toolCallId === "k5", "permission for k5");
      const from = agent.wire.received.items.length;
      await agent.notify(acp.methods.agent.session.cancel, { sessionId });
      const reason = await bounded(req.withdrawn, "the permission request withdrawn");
      assert.equal(reason.code, -32800);
      assert.equal(req.answeredBy, "the withdrawal");
      await agent.wire.received.waitFor(
        (m) => m.method === "$/cancel_request" && m.params.requestId === req.requestId,
        "$/cancel_request of the permission request",
        from,
      );
      assert.equal((await answered).stopReason, "cancelled");
      await agent.updates.waitFor((n) => n.update.toolCallId === "k5" && n.update.status === "failed", "k5 not run");
      assert.equal(fs.existsSync(path.join(ws, "held.txt")), false);
    });

    await step("$/cancel_request of the prompt cancels it and withdraws its permission request", async () => {
      const cancel = new AbortController();
      const sent = agent.wire.sent.items.length;
      const answered = prompt("Write dropped.txt please", { cancellationSignal: cancel.signal });
      const req = await agent.permissions.waitFor((r) => r.params.toolCall.toolCallId === "k6", "permission for k6");
      cancel.abort();
      assert.equal((await answered).stopReason, "cancelled");
      await bounded(req.withdrawn, "the permission request withdrawn");
      assert.equal(req.answeredBy, "the withdrawal");
      const out = agent.wire.sent.items.slice(sent);
      const promptRequest = out.find((m) => m.method === "session/prompt");
      assert.ok(
        out.some((m) => m.method === "$/cancel_request" && m.params.requestId === promptRequest.id),
        JSON.stringify(out),
      );
      assert.ok(!out.some((m) => m.method === "session/cancel"), "no session/cancel was sent");
      await agent.updates.waitFor((n) => n.update.toolCallId === "k6" && n.update.status === "failed", "k6 not run");
      assert.equal(fs.existsSync(path.join(ws, "dropped.txt")), false);
    });

    await step("without the client's terminal a command runs locally and its output is text", async () => {
      other = startAgent({ dataDir, mockUrl: mock.url });
      await other.request(acp.methods.agent.initialize, {
        ...INIT,
        clientCapabilities: { fs: { readTextFile: true, writeTextFile: true } },
      });
      const id = (await other.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] })).sessionId;
      await other.request(acp.methods.agent.session.setMode, { sessionId: id, modeId: "coder" });
      // Approved if asked: where commands run sandboxed, `echo` is not asked about.
      other.allowed.add("k7");
      const answered = other.request(acp.methods.agent.session.prompt, {
        sessionId: id,
        prompt: [{ type: "text", text: "Echo hi please" }],
      });
      assert.equal((await answered).stopReason, "end_turn");
      const k7 = updatesOf(other, "k7");
      // The call's kind, shown by its permission request or else its `tool_call`.
      const shown = other.allowedAsked.find((p) => p.toolCall.toolCallId === "k7")?.toolCall ?? k7[0];
      assert.equal(shown.kind, "execute", JSON.stringify(shown));
      assert.equal(k7[k7.length - 1].status, "completed", JSON.stringify(k7));
      const texts = (u) =>
        (u.content ?? []).filter((c) => c.type === "content" && c.content.type === "text").map((c) => c.content.text);
      // Streamed while it ran (an update before the one that completes the call),
      // and in the result.
      const streamed = k7.slice(0, -1).filter((u) => u.sessionUpdate === "tool_call_update" && !u.status);
      assert.ok(streamed.some((u) => texts(u).some((s) => /^hi$/m.test(s))), JSON.stringify(k7));
      assert.ok(texts(k7[k7.length - 1]).some((s) => /^Exit code: 0\nhi$/m.test(s)), JSON.stringify(k7));
      assert.ok(!k7.some((u) => (u.content ?? []).some((c) => c.type === "terminal")), JSON.stringify(k7));
      assert.deepEqual(other.terminalCalls.items, []);
      assert.match(await resultSeen("k7"), /Exit code: 0\\nhi/);
    });

    await step("both connections close cleanly", async () => {
      assert.equal(await other.close(), 0, other.logs());
      assert.equal(await agent.close(), 0, agent.logs());
      assert.deepEqual(await mock.violations(), []);
    });
  } finally {
    agent.child.kill();
    other?.child.kill();
    mock.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
