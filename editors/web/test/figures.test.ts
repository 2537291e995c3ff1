import { describe, expect, it } from "vitest";
import { requestSeries, toolOutcomes } from "../src/figures.ts";

describe("dashboard figures", () => {
  it("splits tool:outcome counts into a row per outcome", () => {
    const r = toolOutcomes({ "read_file:completed": 3, "apply_diff:rejected": 1, "apply_diff:completed": 2 });
    expect(r.tools).toEqual(["apply_diff", "read_file"]);
    expect(r.outcomes).toEqual(["completed", "rejected"]);
    expect(r.values).toEqual([
      [2, 3],
      [1, 0],
    ]);
  });

  it("turns completed model requests into cumulative series, in time order", () => {
    const entry = (at: string, input: number, cost: number, ms: number) => ({
      id: at,
      at,
      category: "llm",
      type: "requestCompleted",
      payload: { usage: { inputTokens: input, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: cost, durationMs: ms, timeToFirstTokenMs: null },
    });
    const s = requestSeries([
      entry("2026-11-24T09:31:00Z", 10, 0.5, 300),
      { id: "x", at: "2026-11-24T09:30:30Z", category: "llm", type: "requestFailed", payload: {} },
      entry("2026-11-24T09:30:00Z", 5, 0.25, 100),
    ]);
    expect(s.tokens).toEqual([6, 17]);
    expect(s.cost).toEqual([0.25, 0.75]);
    expect(s.latency).toEqual([100, 300]);
    expect(s.ttft).toEqual([null, null]);
    expect(s.t[1] - s.t[0]).toBe(60);
  });
});
