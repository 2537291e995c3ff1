// How the page is opened: `codelab-agent serve` prints
// `http://127.0.0.1:7420/#token=...&folder=file:///...` (the token in the
// fragment, which the browser never sends to the server, as Jupyter does).
// The page keeps both in session storage (this tab only, gone when it
// closes) and removes them from the address bar, so they do not end up in
// the history, bookmarks or a screenshot.

export interface Launch {
  token?: string;
  folder?: string;
}

const KEY = "codelab.launch";

/** Reads `token` and `folder` from a fragment; `rest` is what else it held. */
export function parseFragment(hash: string): { launch: Launch; rest: string } {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const launch: Launch = {};
  const token = params.get("token");
  const folder = params.get("folder");
  if (token) launch.token = token;
  if (folder) launch.folder = folder;
  params.delete("token");
  params.delete("folder");
  const rest = params.toString();
  return { launch, rest: rest ? `#${rest}` : "" };
}

/** Minimal views of what the page uses, so the logic is testable without a DOM. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}
export interface LocationLike {
  hash: string;
  pathname: string;
  search: string;
}
export interface HistoryLike {
  replaceState(data: unknown, unused: string, url: string): void;
}

/** The launch parameters: from the fragment (then stored and removed from the
 * address bar), else from this tab's session storage. */
export function takeLaunch(location: LocationLike, storage: StorageLike, history: HistoryLike): Launch {
  const stored: Launch = JSON.parse(storage.getItem(KEY) ?? "{}");
  const { launch, rest } = parseFragment(location.hash);
  if (launch.token || launch.folder) {
    const merged = { ...stored, ...launch };
    storage.setItem(KEY, JSON.stringify(merged));
    history.replaceState(null, "", `${location.pathname}${location.search}${rest}`);
    return merged;
  }
  return stored;
}

/** The websocket URL of the page's own server. */
export function socketUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/lsp`;
}

/** The subprotocol that carries the token (browsers cannot set headers). */
export function tokenProtocol(token: string): string {
  return `codelab-token.${token}`;
}
