#!/usr/bin/env python3
# The `search` and `peers` figures of benches/suite.rs as a light driver of
# the release binaries (same design, see BENCHMARKS.md), for when the bench
# suite cannot be built in time: python3 benches/e2e.py search|peers [RUNS].
# Needs CODELAB_BENCH_CORPUS, CODELAB_BENCH_RG and CODELAB_BENCH_PEERS as
# scripts/bench.sh sets them.
import json, os, re, statistics, subprocess, sys, tempfile, time
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "stream.py")).read().split("runs = int(sys.argv[1])")[0])
CORPUS = os.environ.get("CODELAB_BENCH_CORPUS", os.path.expanduser("~/.cache/codelab-agent/corpus/linux-source-6.1"))
RGS = ["rg"] + ([os.environ["CODELAB_BENCH_RG"]] if os.environ.get("CODELAB_BENCH_RG") else [])
PEERS = os.environ.get("CODELAB_BENCH_PEERS", os.path.expanduser("~/.cache/codelab-agent/peers"))
def mock_script(replies):
    path = tempfile.mktemp(suffix=".json")
    json.dump({"replies": replies}, open(path, "w"))
    p = subprocess.Popen([f"{T}/mock-llm", "--script", path], stdout=subprocess.PIPE)
    return p, p.stdout.readline().decode().split("listening on ")[1].strip()
class Workspace(Server):
    def __init__(self, url, root, agent):
        env = dict(os.environ, OPENAI_BASE_URL=url + "/v1", OPENAI_API_KEY="k", CODELAB_MODEL="m", RUST_LOG="warn")
        self.d = tempfile.mkdtemp()
        self.p = subprocess.Popen([f"{T}/codelab-agent", "--standalone", "--data-dir", self.d], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.i = 0
        self.call("initialize", {"capabilities": {}, "processId": None, "rootUri": "file://" + root})
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        self.s = self.call("codelab/createSession", {"agent": agent})["result"]["id"]
    def tool_turn(self):
        t = time.time(); result = None; n = 0
        self.call("codelab/sendMessage", {"sessionId": self.s, "text": "go"})
        while True:
            m = self.recv()
            if m.get("method") == "codelab/toolCall" and m["params"].get("status") == "completed":
                result = m["params"].get("result")
            elif m.get("method") == "codelab/token":
                n += len(re.findall(r"T\d+\|", m["params"]["delta"]))
            elif m.get("method") == "codelab/turnCompleted":
                return time.time() - t, result, n
def total(result):
    m = re.search(r"\n\[(\d+) matches", result)
    if m: return int(m.group(1))
    m = re.search(r" in all: (\d+) files", result)
    if m: return int(m.group(1))
    return 0 if result.startswith("No matches") else len([l for l in result.splitlines() if l and not l.endswith("/")])
def rg(bin, args):
    t = time.time(); out = subprocess.run([bin] + args, cwd=CORPUS, stdout=subprocess.PIPE).stdout
    return time.time() - t, out
def ms(v): v = sorted(v); return f"{v[len(v)//2]*1000:.0f} ms ({v[0]*1000:.0f}–{v[-1]*1000:.0f})"
def search(runs):
    cases = [(f"search_in_code, {l} `{p}`", "search_in_code", {"regex": p}, ["-n", "--hidden", "--no-config", "-g", "!.git", p])
             for l, p in [("literal", "PM_RESUME"), ("word regex", r"\b[A-Z]+_SUSPEND\b"), ("rare", "ZZQ_NOT_ANYWHERE_QZZ"), ("common", "return")]]
    cases.append(("list_files recursive vs rg --files", "list_files", {"path": ".", "recursive": True}, ["--files", "--hidden", "--no-config", "-g", "!.git"]))
    for name, tool, args, rgargs in cases:
        call = {"chunks": [{"toolCall": {"id": "c1", "name": tool, "arguments": args}}]}
        done = {"chunks": [{"text": "done"}]}
        mp, url = mock_script([call, done] * (runs + 1))
        ours, totals = [], set()
        for i in range(runs + 1):
            s = Workspace(url, CORPUS, "coder")
            secs, result, _ = s.tool_turn(); s.close()
            totals.add(total(result))
            if i: ours.append(secs)
        mp.kill()
        cols = []
        for bin in RGS:
            version = subprocess.run([bin, "--version"], stdout=subprocess.PIPE).stdout.decode().split("\n")[0]
            rg(bin, rgargs)
            theirs = []
            for _ in range(runs):
                secs, out = rg(bin, rgargs); theirs.append(secs)
            lines = out.decode(errors="replace").splitlines()
            expect = len(lines)
            same = "same" if totals == {expect} else f"MISMATCH {sorted(totals)} vs {expect}"
            cols.append(f"{version}: {ms(theirs)}, ratio {statistics.median(ours)/statistics.median(theirs):.2f}x, {expect} {same}")
        print(f"| {name} | {ms(ours)} | " + "; ".join(cols) + " |", flush=True)
def direct_n(url, path, body):
    t = time.time(); n = 0
    p = subprocess.Popen(["curl", "-sN", "-H", "content-type: application/json", "-d", body, url + path], stdout=subprocess.PIPE)
    for line in p.stdout:
        if line.startswith(b"data: {"):
            v = json.loads(line[6:])
            if "choices" in v and v["choices"] and v["choices"][0]["delta"].get("content"):
                n += v["choices"][0]["delta"]["content"].count("|")
            elif v.get("type") == "response.output_text.delta":
                n += v["delta"].count("|")
    p.wait()
    return time.time() - t, n
def peer_once(peer, url, home):
    work = os.path.join(home, "work"); os.makedirs(work, exist_ok=True)
    t = time.time()
    if peer == "codelab-agent":
        s = Workspace(url, work, "ask"); secs, _, n = s.tool_turn(); s.close()
        return time.time() - t, n
    bin = os.path.join(PEERS, "node_modules/.bin", peer)
    if peer == "codex":
        cmd = [bin, "exec", "--json", "--skip-git-repo-check", "-c", "model_provider=mock", "-c",
               f'model_providers.mock={{name="mock",base_url="{url}/v1",wire_api="responses",env_key="MOCK_KEY",stream_max_retries=0,request_max_retries=0}}',
               "-m", "m", "go"]
    else:
        cmd = [bin, "--json", "--config", os.path.join(home, "cline"), "-c", work, "--retries", "1", "say go"]
    out = subprocess.run(cmd, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, CODEX_HOME=os.path.join(home, "codex"), MOCK_KEY="k")).stdout
    secs = time.time() - t; n = 0
    for line in out.decode(errors="replace").splitlines():
        try: v = json.loads(line)
        except ValueError: continue
        if v.get("type") == "item.completed" and v["item"].get("type") == "agent_message":
            n += v["item"]["text"].count("|")
        elif v.get("type") == "run_result":
            n += (v.get("text") or "").count("|")
    return secs, n
def peers(runs, tokens=20000):
    for peer in ["codelab-agent", "codex", "cline"]:
        path, body = (("/v1/responses", '{"model":"m","stream":true,"input":"go"}') if peer == "codex" else
                      ("/v1/chat/completions", BODY))
        res = {}
        for n in [1, tokens]:
            mp, url = mock(n, None, 6 * (runs + 1))
            home = tempfile.mkdtemp(dir=os.path.expanduser("~/.cache/codelab-agent"), prefix="peer-")
            os.makedirs(os.path.join(home, "codex"), exist_ok=True)
            if peer == "cline":
                subprocess.run([os.path.join(PEERS, "node_modules/.bin/cline"), "auth", "-p", "openai-compatible", "-k", "k", "-m", "m",
                                "-b", url + "/v1", "--config", os.path.join(home, "cline")], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            direct_n(url, path, body); peer_once(peer, url, home)
            d, p, ok = [], [], True
            for _ in range(runs):
                a, an = direct_n(url, path, body); b, bn = peer_once(peer, url, home)
                ok &= an == n and bn == n; d.append(a); p.append(b)
            res[n] = (d, p, ok); mp.kill()
            subprocess.run(["rm", "-rf", home])
        (d1, p1, ok1), (dn, pn, okn) = res[1], res[tokens]
        med = statistics.median
        ratios = sorted((med(dn) - med(d1)) / (x - med(p1)) for x in pn)
        print(f"| {peer} | one prompt {ms(p1)} | {tokens} tokens {ms(pn)} | curl {ms(dn)}, 1 token {ms(d1)} | "
              f"{ratios[len(ratios)//2]:.2f}x ({ratios[0]:.2f}–{ratios[-1]:.2f}) | {'every token' if ok1 and okn else 'TOKENS MISSING'} |", flush=True)
what = sys.argv[1] if len(sys.argv) > 1 else "search"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
search(runs) if what == "search" else peers(runs)
