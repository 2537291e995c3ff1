// The files an approval shows in the diff editor, one tab each: the edit's
// files with both texts when the server sent them (`files`), else the
// files of its unified diff (a `git_commit` shows the diff it commits),
// each as the lines its hunks cover before and after.

import type { Approval } from "../../../protocol/codelab-protocol.ts";

export interface ShownFile {
  path: string;
  current: string;
  proposed: string;
}

/** Every file of the approval, in the server's order. */
export function approvalFiles(a: Pick<Approval, "files" | "diff">): ShownFile[] {
  if (a.files && a.files.length > 0) return a.files.map((f) => ({ path: f.path, current: f.current, proposed: f.proposed }));
  return a.diff ? splitUnifiedDiff(a.diff) : [];
}

/** Between two hunks of a file: the lines in between are not in the diff. */
export const GAP = "⋯";

/**
 * A unified diff (`git diff` or `diff -u`) as one entry per file: the
 * lines of its hunks as they are (context and removed lines) and as they
 * would be (context and added lines), hunks separated by a `⋯` line.
 */
export function splitUnifiedDiff(diff: string): ShownFile[] {
  const out: ShownFile[] = [];
  let file: { path: string; before: string[]; after: string[]; hunks: number } | undefined;
  // Lines of the current hunk still to read, before and after (from its header).
  let left = 0;
  let right = 0;
  const inHunk = () => left > 0 || right > 0;
  const flush = () => {
    if (file) out.push({ path: file.path, current: file.before.join("\n"), proposed: file.after.join("\n") });
    file = undefined;
  };
  const strip = (p: string) => p.replace(/^[ab]\//, "").replace(/\t.*$/, "");
  for (const line of diff.split("\n")) {
    if (line.startsWith("diff --git ")) {
      flush();
      left = right = 0;
      const m = / b\/(.+)$/.exec(line);
      file = { path: m ? m[1] : line.slice(11), before: [], after: [], hunks: 0 };
    } else if (!inHunk() && line.startsWith("--- ")) {
      if (!file || file.hunks > 0) {
        flush();
        file = { path: "", before: [], after: [], hunks: 0 };
      }
      const p = line.slice(4);
      if (p !== "/dev/null" && !file.path) file.path = strip(p);
    } else if (!inHunk() && line.startsWith("+++ ")) {
      const p = line.slice(4);
      if (file && p !== "/dev/null") file.path = strip(p);
    } else if (!inHunk() && line.startsWith("@@")) {
      const counts = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(line);
      left = counts ? Number(counts[1] ?? 1) : 0;
      right = counts ? Number(counts[2] ?? 1) : 0;
      if (!file) file = { path: "", before: [], after: [], hunks: 0 };
      if (file.hunks > 0) {
        file.before.push(GAP);
        file.after.push(GAP);
      }
      file.hunks++;
    } else if (inHunk() && file) {
      if (line.startsWith("+")) {
        file.after.push(line.slice(1));
        right--;
      } else if (line.startsWith("-")) {
        file.before.push(line.slice(1));
        left--;
      } else if (line.startsWith(" ") || line === "") {
        // A context line (an empty one may have lost its leading space).
        file.before.push(line.slice(1));
        file.after.push(line.slice(1));
        left--;
        right--;
      }
    }
  }
  flush();
  return out.filter((f) => f.path !== "");
}
