#!/usr/bin/env python3
# Streaming figures with both sides as whole processes (see BENCHMARKS.md,
# "Streaming, whole processes"): the release mock-llm in its own process;
# the direct baseline is curl; codelab-agent a fresh --standalone server per
# run, read over stdio by this client. Usage: python3 benches/stream.py [RUNS]
# after `cargo build --release --bins -p codelab-agent -p mock-llm`.
# Stream figures with both sides as whole processes; the mock in its own process.
import json, subprocess, sys, time, os, statistics, tempfile
T = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target")), "release")
TICK = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK
def mock(tokens, every, replies):
    ch = {"stampedTokens": tokens}
    if every: ch["stampEveryMs"] = every
    path = tempfile.mktemp(suffix=".json")
    json.dump({"replies": [{"chunks": [ch]}] * replies}, open(path, "w"))
    p = subprocess.Popen([f"{T}/mock-llm", "--script", path], stdout=subprocess.PIPE)
    url = p.stdout.readline().decode().split("listening on ")[1].strip()
    return p, url
BODY = '{"model":"m","stream":true,"messages":[{"role":"user","content":"go"}]}'
def stamps(text, now, out):
    n = 0
    for tok in text.split("|"):
        if tok.startswith("T"):
            out.append(now - int(tok[1:])); n += 1
    return n
def direct(url, parse):
    t = time.time()
    if not parse:
        subprocess.run(["curl", "-sN", "-H", "content-type: application/json", "-d", BODY, url + "/v1/chat/completions", "-o", "/dev/null"], check=True)
        return time.time() - t, []
    p = subprocess.Popen(["curl", "-sN", "-H", "content-type: application/json", "-d", BODY, url + "/v1/chat/completions"], stdout=subprocess.PIPE)
    lat = []
    for line in p.stdout:
        if line.startswith(b"data: {"):
            d = json.loads(line[6:])["choices"]
            if d and d[0]["delta"].get("content"):
                stamps(d[0]["delta"]["content"], time.time_ns() // 1000, lat)
    p.wait()
    return time.time() - t, lat
class Server:
    def __init__(self, url):
        env = dict(os.environ, OPENAI_BASE_URL=url + "/v1", OPENAI_API_KEY="k", CODELAB_MODEL="m", RUST_LOG="warn")
        self.d = tempfile.mkdtemp()
        self.p = subprocess.Popen([f"{T}/codelab-agent", "--standalone", "--data-dir", self.d], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.i = 0
        self.call("initialize", {"capabilities": {}, "processId": None, "rootUri": None})
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        self.s = self.call("codelab/createSession", {"agent": "ask"})["result"]["id"]
    def send(self, m):
        b = json.dumps(m).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(b) + b); self.p.stdin.flush()
    def recv(self):
        n = 0
        while True:
            l = self.p.stdout.readline()
            if l in (b"\r\n", b"\n"): break
            if l.lower().startswith(b"content-length:"): n = int(l.split(b":")[1])
        return json.loads(self.p.stdout.read(n))
    def call(self, method, params):
        self.i += 1; i = self.i
        self.send({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        while True:
            m = self.recv()
            if m.get("id") == i and "method" not in m: return m
    def turn(self):
        c0 = cpu(self.p.pid); t = time.time(); lat = []; n = notes = 0
        self.call("codelab/sendMessage", {"sessionId": self.s, "text": "go"})
        while True:
            m = self.recv()
            if m.get("method") == "codelab/token":
                notes += 1; n += stamps(m["params"]["delta"], time.time_ns() // 1000, lat)
            elif m.get("method") == "codelab/turnCompleted": break
        return time.time() - t, lat, n, notes, cpu(self.p.pid) - c0
    def close(self):
        self.p.stdin.close(); self.p.kill(); self.p.wait()
def pct(v, q):
    v = sorted(v); return v[round((len(v) - 1) * q)] if v else 0.0
def rng(v, f):
    v = sorted(v); return f"{f(v[len(v)//2])} ({f(v[0])}–{f(v[-1])})"
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
for label, tokens, every in [("50 tokens/s", 150, 20), ("200 tokens/s", 600, 5), ("1,000 tokens/s", 2000, 1), ("flat out", 50000, None)]:
    mp, url = mock(tokens, every, 3 * runs + 4)
    direct(url, False)
    d = [direct(url, every is not None) for _ in range(runs)]
    dsecs = [x[0] for x in d]
    dp50 = statistics.median([pct(x[1], .5) for x in d]) if every else 0
    dp99 = statistics.median([pct(x[1], .99) for x in d]) if every else 0
    rows = []
    for _ in range(runs):
        s = Server(url)
        secs, lat, n, notes, c = s.turn()
        assert n == tokens, (n, tokens)
        rows.append((secs, pct(lat, .5) - dp50, pct(lat, .99) - dp99, notes / secs, c / n * 1e6, notes))
        s.close()
    dm = statistics.median(dsecs)
    print(f"| {label}, {tokens} tokens | direct {rng(dsecs, lambda s: f'{s*1000:.0f} ms')}"
          + (f", latency p50 {dp50/1000:.2f} ms p99 {dp99/1000:.2f} ms" if every else " (curl to /dev/null)")
          + f" | {rng([r[0] for r in rows], lambda s: f'{s*1000:.0f} ms')}"
          + f" | {rng([dm / r[0] for r in rows], lambda x: f'{x:.2f}x')}"
          + (f" | added p50 {rng([r[1] for r in rows], lambda u: f'{u/1000:.2f} ms')}, p99 {rng([r[2] for r in rows], lambda u: f'{u/1000:.2f} ms')}" if every else " | —")
          + f" | {rng([r[3] for r in rows], lambda x: f'{x:.0f}')} | {rng([r[5] for r in rows], lambda x: f'{x:.0f}')} | {rng([r[4] for r in rows], lambda x: f'{x:.2f} µs')} |", flush=True)
    mp.kill(); mp.wait()
