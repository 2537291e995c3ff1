import { describe, expect, it } from "vitest";
import { approvalFiles, splitUnifiedDiff, GAP } from "../src/approval-files.ts";

const gitDiff = `diff --git a/lib.rs b/lib.rs
index 1111111..2222222 100644
--- a/lib.rs
+++ b/lib.rs
@@ -1,3 +1,3 @@
 fn one() -> u32 {
-    1
+    2
 }
@@ -10,2 +10,3 @@
 fn ten() {}
+fn eleven() {}
 // end
diff --git a/src/main.rs b/src/main.rs
new file mode 100644
--- /dev/null
+++ b/src/main.rs
@@ -0,0 +1 @@
+fn main() {}
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone
`;

describe("the files of an approval", () => {
  it("takes the server's files, every one of them, when it sent them", () => {
    const files = [
      { path: "a.rs", current: "a", proposed: "A" },
      { path: "b.rs", current: "b", proposed: "B" },
    ];
    expect(approvalFiles({ files, diff: "ignored" })).toEqual(files);
  });

  it("splits a unified diff into one entry per file, hunks separated", () => {
    const files = splitUnifiedDiff(gitDiff);
    expect(files.map((f) => f.path)).toEqual(["lib.rs", "src/main.rs", "old.txt"]);
    expect(files[0].current).toBe(["fn one() -> u32 {", "    1", "}", GAP, "fn ten() {}", "// end"].join("\n"));
    expect(files[0].proposed).toBe(["fn one() -> u32 {", "    2", "}", GAP, "fn ten() {}", "fn eleven() {}", "// end"].join("\n"));
    expect(files[1]).toEqual({ path: "src/main.rs", current: "", proposed: "fn main() {}" });
    expect(files[2]).toEqual({ path: "old.txt", current: "gone", proposed: "" });
    expect(approvalFiles({ diff: gitDiff })).toEqual(files);
  });

  it("reads plain `diff -u` output, and nothing from no diff", () => {
    const files = splitUnifiedDiff("--- a/x.md\n+++ b/x.md\n@@ -1 +1 @@\n-old\n+new\n--- a/y.md\n+++ b/y.md\n@@ -1 +1 @@\n-1\n+2\n");
    expect(files).toEqual([
      { path: "x.md", current: "old", proposed: "new" },
      { path: "y.md", current: "1", proposed: "2" },
    ]);
    expect(approvalFiles({})).toEqual([]);
    expect(approvalFiles({ files: [], diff: "" })).toEqual([]);
  });
});
