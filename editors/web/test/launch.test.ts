import { describe, expect, it } from "vitest";
import { parseFragment, socketUrl, takeLaunch, tokenProtocol } from "../src/launch.ts";

function fakes(hash: string, stored?: string) {
  const store = new Map<string, string>();
  if (stored) store.set("codelab.launch", stored);
  const replaced: string[] = [];
  return {
    location: { hash, pathname: "/", search: "" },
    storage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) },
    history: { replaceState: (_d: unknown, _u: string, url: string) => void replaced.push(url) },
    store,
    replaced,
  };
}

describe("launch", () => {
  it("takes the token and folder from the fragment, keeps them, and clears the address bar", () => {
    const f = fakes("#token=s3cr3t&folder=file%3A%2F%2F%2Fhome%2Fada%2Fsrc");
    const l = takeLaunch(f.location, f.storage, f.history);
    expect(l).toEqual({ token: "s3cr3t", folder: "file:///home/ada/src" });
    expect(f.replaced).toEqual(["/"]);
    expect(JSON.parse(f.store.get("codelab.launch")!)).toEqual(l);
  });

  it("reads session storage after a reload, touching nothing", () => {
    const f = fakes("", JSON.stringify({ token: "t" }));
    expect(takeLaunch(f.location, f.storage, f.history)).toEqual({ token: "t" });
    expect(f.replaced).toEqual([]);
  });

  it("keeps other fragment parameters", () => {
    expect(parseFragment("#token=a&view=dashboard")).toEqual({ launch: { token: "a" }, rest: "#view=dashboard" });
    expect(parseFragment("")).toEqual({ launch: {}, rest: "" });
  });

  it("builds the socket URL and the token subprotocol", () => {
    expect(socketUrl({ protocol: "http:", host: "127.0.0.1:7420" })).toBe("ws://127.0.0.1:7420/lsp");
    expect(socketUrl({ protocol: "https:", host: "ide.example" })).toBe("wss://ide.example/lsp");
    expect(tokenProtocol("abc")).toBe("codelab-token.abc");
  });
});
