// The chat webview: shows the HTML the extension renders, item by item, and
// sends clicks and the input back. No state of its own beyond the DOM.
(function () {
  const vscode = acquireVsCodeApi();
  const log = document.getElementById("log");
  const input = document.getElementById("input");
  const send = document.getElementById("send");
  const cancel = document.getElementById("cancel");
  const agent = document.getElementById("agent");
  const state = document.getElementById("state");
  const nodes = new Map();

  function submit() {
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    vscode.postMessage({ type: "send", text });
  }
  send.addEventListener("click", submit);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit();
    }
  });
  cancel.addEventListener("click", () => vscode.postMessage({ type: "cancel" }));
  document.getElementById("new").addEventListener("click", () => vscode.postMessage({ type: "newSession" }));
  agent.addEventListener("change", () => vscode.postMessage({ type: "agent", agent: agent.value }));

  log.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (!button) return;
    const id = button.dataset.id;
    const msg = { type: "action", action: button.dataset.action, id };
    if (msg.action === "reject") {
      const fb = log.querySelector(`input[data-feedback-for="${CSS.escape(id)}"]`);
      msg.feedback = fb ? fb.value : "";
    } else if (msg.action === "answer") {
      msg.answer = button.dataset.answer;
    } else if (msg.action === "answerText") {
      const t = log.querySelector(`input[data-answer-for="${CSS.escape(id)}"]`);
      msg.answer = t ? t.value : "";
    }
    if (msg.action !== "diff" && msg.action !== "edit") {
      for (const b of button.closest(".card").querySelectorAll("button")) b.disabled = true;
    }
    vscode.postMessage(msg);
  });

  function replace(key, html) {
    const tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    const el = tpl.content.firstElementChild || document.createElement("div");
    el.dataset.key = key;
    const old = nodes.get(key);
    if (old) {
      // Keep what the user opened (details) and typed (inputs).
      const openBefore = [...old.querySelectorAll("details")].map((d) => d.open);
      el.querySelectorAll("details").forEach((d, i) => {
        if (i < openBefore.length) d.open = openBefore[i];
      });
      const typed = [...old.querySelectorAll("input")].map((i) => i.value);
      el.querySelectorAll("input").forEach((i, n) => {
        if (n < typed.length) i.value = typed[n];
      });
      old.replaceWith(el);
    }
    nodes.set(key, el);
    return el;
  }

  window.addEventListener("message", (event) => {
    const m = event.data;
    if (m.type === "reset") {
      nodes.clear();
      log.replaceChildren();
      return;
    }
    if (m.type !== "render") return;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    for (const c of m.changed) replace(c.key, c.html);
    const wanted = new Set(m.order);
    for (const [key, el] of nodes) {
      if (!wanted.has(key)) {
        el.remove();
        nodes.delete(key);
      }
    }
    let prev = null;
    for (const key of m.order) {
      const el = nodes.get(key);
      if (!el) continue;
      const expected = prev ? prev.nextSibling : log.firstChild;
      if (expected !== el) log.insertBefore(el, expected);
      prev = el;
    }
    if (atBottom) log.scrollTop = log.scrollHeight;
    const s = m.status;
    const agents = s.agents.length > 0 ? s.agents : [s.agent];
    if (agent.dataset.list !== agents.join(",")) {
      agent.replaceChildren(...agents.map((a) => new Option(a, a)));
      agent.dataset.list = agents.join(",");
    }
    if (s.agent) agent.value = s.agent;
    cancel.disabled = !s.running;
    document.body.classList.toggle("running", s.running);
    state.textContent = !s.connected ? "server not running" : s.running ? "working…" : s.title || "";
    state.dataset.running = String(s.running);
  });
  vscode.postMessage({ type: "ready" });
})();
