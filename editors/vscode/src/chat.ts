// The chat's state, apart from VS Code: what the server's notifications and a
// session's replayed history add up to. Everything is ordered by `seq`, and a
// notification whose seq was already applied (a replay after a reconnect, a
// resume) changes nothing, so nothing is ever shown twice.

import type {
  AgentSwitchedParams,
  Approval,
  ApprovalResolvedParams,
  AttachSessionResult,
  CommandOutputParams,
  Compaction,
  ContextUsageParams,
  Decision,
  Message,
  MessageAddedParams,
  QuestionParams,
  TokenParams,
  TokenUsage,
  ToolCallParams,
  ToolCallStatus,
  TurnCompletedParams,
} from "../../../protocol/codelab-protocol.ts";

export interface UserItem {
  kind: "user";
  key: string;
  seq: number;
  turnId?: string;
  text: string;
  context?: Message["context"];
}

export interface AssistantItem {
  kind: "assistant";
  key: string;
  seq: number;
  turnId?: string;
  /** Streamed deltas, by seq, until the persisted message replaces them. */
  parts: { seq: number; delta: string }[];
  /** The persisted text, once the message arrived. */
  final?: string;
  /** The seq of that message. */
  finalSeq?: number;
  /** The turn ended (the block no longer grows, whether or not its message came). */
  done?: boolean;
}

export interface ToolItem {
  kind: "tool";
  key: string;
  seq: number;
  id: string;
  name: string;
  toolKind: string;
  params: unknown;
  status: ToolCallStatus;
  /** The seq of the notification that set `status` (a later one wins). */
  statusSeq: number;
  result?: string;
  /** Live command output, by seq. */
  output: { seq: number; stream: string; text: string }[];
}

export interface ApprovalItem {
  kind: "approval";
  key: string;
  seq: number;
  approval: Approval;
  /** `pending` until decided (here or elsewhere). */
  state: "pending" | Decision;
  by?: string;
}

export interface QuestionItem {
  kind: "question";
  key: string;
  seq: number;
  question: QuestionParams;
  answer?: string;
}

export interface TurnEndItem {
  kind: "turnEnd";
  key: string;
  seq: number;
  stopReason: string;
  usage?: TokenUsage;
  costUsd?: number;
  error?: string;
  result?: string;
}

export interface AgentItem {
  kind: "agent";
  key: string;
  seq: number;
  from: string;
  to: string;
  reason: string;
}

/** A compaction marker: older turns summarised or tool outputs elided, or (`rewoundFrom`) the conversation truncated by a restore. */
export interface CompactionItem {
  kind: "compaction";
  key: string;
  seq: number;
  compaction: Compaction;
}

export type Item = UserItem | AssistantItem | ToolItem | ApprovalItem | QuestionItem | TurnEndItem | AgentItem | CompactionItem;

/** The text an assistant item shows. */
export function assistantText(item: AssistantItem): string {
  return item.final ?? item.parts.map((p) => p.delta).join("");
}

const rank: Record<ToolCallStatus, number> = { pending: 0, in_progress: 1, completed: 2, failed: 2 };

function insertBySeq<T extends { seq: number }>(list: T[], entry: T): void {
  let i = list.length;
  while (i > 0 && list[i - 1].seq > entry.seq) i--;
  list.splice(i, 0, entry);
}

export class ChatModel {
  readonly sessionId: string;
  agent: string | undefined;
  title: string | undefined;
  /** The running turn, if any. */
  runningTurn: string | undefined;
  /** The largest seq applied (what `attachSession`'s `afterSeq` resumes from). */
  lastSeq = 0;
  /** The latest `codelab/contextUsage`: context used, window and the session's cost. */
  usage: ContextUsageParams | undefined;
  private readonly seen = new Set<number>();
  private readonly items = new Map<string, Item>();
  /** The seqs of each turn's persisted replies (assistant messages). */
  private readonly replies = new Map<string, number[]>();
  /** Turns whose `turnCompleted` was seen (a late token does not restart them). */
  private readonly ended = new Set<string>();

  constructor(sessionId: string) {
    this.sessionId = sessionId;
  }

  /** Items in seq order (an item sits at the seq of its first event). */
  list(): Item[] {
    return [...this.items.values()].sort((a, b) => a.seq - b.seq || a.key.localeCompare(b.key));
  }

  get(key: string): Item | undefined {
    return this.items.get(key);
  }

  /** Whether a turn's result is the text of one of its replies (shown already). */
  resultIsReply(item: TurnEndItem): boolean {
    const turn = item.key.slice(2);
    return [...this.items.values()].some((i) => i.kind === "assistant" && i.turnId === turn && assistantText(i).trim() === item.result?.trim());
  }

  /**
   * What the user asked in a turn (its first message), if shown here. A turn
   * resumed after a restart has a new id: its prompt is the last message of
   * the user before the turn's first item.
   */
  prompt(turnId: string): string | undefined {
    const list = this.list();
    const own = list.find((i) => i.kind === "user" && i.turnId === turnId);
    if (own && own.kind === "user") return own.text;
    const first = list.find((i) => (i.kind === "assistant" && i.turnId === turnId) || i.key === `e:${turnId}`);
    if (!first) return undefined;
    const before = list.filter((i): i is UserItem => i.kind === "user" && i.seq < first.seq);
    return before[before.length - 1]?.text;
  }

  pendingApprovals(): ApprovalItem[] {
    return this.list().filter((i): i is ApprovalItem => i.kind === "approval" && i.state === "pending");
  }

  /** Records a seq; false when it was seen already (the event is a replay). */
  private fresh(seq: number | undefined): boolean {
    if (seq === undefined) return true;
    if (this.seen.has(seq)) return false;
    this.seen.add(seq);
    if (seq > this.lastSeq) this.lastSeq = seq;
    return true;
  }

  /** Applies a notification by method name; returns whether anything changed. */
  apply(method: string, params: any): boolean {
    if (!params || params.sessionId !== this.sessionId) return false;
    switch (method) {
      case "codelab/message":
        return this.message((params as MessageAddedParams).message, params.seq);
      case "codelab/token":
        return this.token(params as TokenParams);
      case "codelab/toolCall":
        return this.toolCall(params as ToolCallParams);
      case "codelab/commandOutput":
        return this.commandOutput(params as CommandOutputParams);
      case "codelab/question":
        return this.question(params as QuestionParams);
      case "codelab/approvalRequired":
        return this.approvalRequired(params.approval as Approval, params.seq);
      case "codelab/approvalResolved":
        return this.approvalResolved(params as ApprovalResolvedParams);
      case "codelab/agentSwitched":
        return this.agentSwitched(params as AgentSwitchedParams);
      case "codelab/turnCompleted":
        return this.turnCompleted(params as TurnCompletedParams);
      case "codelab/contextUsage":
        return this.contextUsage(params as ContextUsageParams);
      default:
        return false;
    }
  }

  /** Applies what `codelab/attachSession` returned. */
  attached(r: AttachSessionResult): void {
    this.agent = r.session.agent;
    this.title = r.session.title;
    for (const m of r.messages) this.message(m, m.seq);
    this.runningTurn = r.runningTurnId ?? undefined;
    // Pending ones carry no seq of their own: they go after everything known.
    let at = Math.max(this.lastSeq, r.session.lastSeq) + 0.5;
    for (const a of r.pendingApprovals) this.approvalRequired(a, undefined, at++);
    for (const q of r.pendingQuestions) this.question(q);
  }

  message(m: Message, seq: number): boolean {
    if (!this.fresh(seq)) return false;
    if (m.compaction) {
      // A marker, not something the user said: its text is the summary the model reads.
      this.items.set(`c:${m.id}`, { kind: "compaction", key: `c:${m.id}`, seq, compaction: m.compaction });
    } else if (m.role === "user") {
      this.items.set(`m:${m.id}`, { kind: "user", key: `m:${m.id}`, seq, turnId: m.turnId ?? undefined, text: m.text, context: m.context });
    } else if (m.role === "assistant") {
      if (m.turnId) this.replies.set(m.turnId, [...(this.replies.get(m.turnId) ?? []), seq]);
      // The streamed block of this turn that this message completes, if any:
      // the last one not yet persisted that began before it.
      const open = this.list().filter(
        (i): i is AssistantItem => i.kind === "assistant" && i.final === undefined && i.turnId === m.turnId && i.seq < seq,
      );
      const target = open[open.length - 1];
      if (target) {
        target.final = m.text;
        target.finalSeq = seq;
      } else if (m.text !== "") {
        this.items.set(`m:${m.id}`, { kind: "assistant", key: `m:${m.id}`, seq, turnId: m.turnId, parts: [], final: m.text, finalSeq: seq });
      }
      let at = seq;
      for (const call of m.toolCalls) {
        const key = `t:${call.id}`;
        if (!this.items.has(key)) {
          at += 0.001;
          this.items.set(key, {
            kind: "tool",
            key,
            seq: at,
            id: call.id,
            name: call.name,
            toolKind: "",
            params: call.arguments,
            status: "pending",
            statusSeq: -1,
            output: [],
          });
        }
      }
    } else if (m.role === "tool" && m.toolCallId) {
      const item = this.items.get(`t:${m.toolCallId}`);
      if (item && item.kind === "tool") {
        if (item.result === undefined) item.result = m.text;
        if (item.statusSeq < seq) {
          item.status = m.isError ? "failed" : "completed";
          item.statusSeq = seq;
        }
      }
    }
    return true;
  }

  token(p: TokenParams): boolean {
    if (!this.fresh(p.seq)) return false;
    if (!this.ended.has(p.turnId)) this.runningTurn = p.turnId;
    // A reply's tokens come before its message: a token below the seq of a
    // message of its turn that is already here belongs to that message (it
    // arrived late, after it), which holds its text.
    if ((this.replies.get(p.turnId) ?? []).some((seq) => seq > p.seq)) return false;
    // The open block of the turn: the last item, if it is this turn's reply in progress.
    const all = this.list();
    const last = all[all.length - 1];
    let target: AssistantItem | undefined;
    if (last && last.kind === "assistant" && last.turnId === p.turnId && last.final === undefined && !last.done) target = last;
    if (!target) {
      target = { kind: "assistant", key: `s:${p.turnId}:${p.seq}`, seq: p.seq, turnId: p.turnId, parts: [] };
      this.items.set(target.key, target);
    }
    insertBySeq(target.parts, { seq: p.seq, delta: p.delta });
    return true;
  }

  toolCall(p: ToolCallParams): boolean {
    if (!this.fresh(p.seq)) return false;
    const key = `t:${p.toolCallId}`;
    let item = this.items.get(key) as ToolItem | undefined;
    if (!item) {
      item = {
        kind: "tool",
        key,
        seq: p.seq,
        id: p.toolCallId,
        name: p.name,
        toolKind: p.kind,
        params: p.params,
        status: p.status,
        statusSeq: p.seq,
        output: [],
      };
      this.items.set(key, item);
    }
    item.toolKind = p.kind || item.toolKind;
    item.params = p.params ?? item.params;
    if (p.seq > item.statusSeq || rank[p.status] > rank[item.status]) {
      item.status = p.status;
      item.statusSeq = Math.max(p.seq, item.statusSeq);
    }
    if (p.result !== undefined && p.result !== null) item.result = p.result;
    return true;
  }

  commandOutput(p: CommandOutputParams): boolean {
    if (!this.fresh(p.seq)) return false;
    const item = this.items.get(`t:${p.toolCallId}`);
    if (!item || item.kind !== "tool") return false;
    insertBySeq(item.output, { seq: p.seq, stream: p.stream, text: p.text });
    return true;
  }

  question(q: QuestionParams): boolean {
    const key = `q:${q.questionId}`;
    if (this.items.has(key)) return false;
    this.fresh(q.seq);
    this.items.set(key, { kind: "question", key, seq: q.seq, question: q });
    return true;
  }

  answered(questionId: string, answer: string): void {
    const item = this.items.get(`q:${questionId}`);
    if (item && item.kind === "question") item.answer = answer;
  }

  approvalRequired(a: Approval, seq: number | undefined, at?: number): boolean {
    const key = `p:${a.id}`;
    if (this.items.has(key)) return false;
    if (seq !== undefined && !this.fresh(seq)) return false;
    this.items.set(key, { kind: "approval", key, seq: seq ?? at ?? this.lastSeq + 0.5, approval: a, state: "pending" });
    return true;
  }

  approvalResolved(p: ApprovalResolvedParams): boolean {
    if (!this.fresh(p.seq)) return false;
    const item = this.items.get(`p:${p.approvalId}`);
    if (!item || item.kind !== "approval") return false;
    item.state = p.decision;
    item.by = p.by;
    return true;
  }

  agentSwitched(p: AgentSwitchedParams): boolean {
    if (!this.fresh(p.seq)) return false;
    this.agent = p.to;
    this.items.set(`g:${p.seq}`, { kind: "agent", key: `g:${p.seq}`, seq: p.seq, from: p.from, to: p.to, reason: p.reason });
    return true;
  }

  /** The latest usage wins (an older one, replayed late, changes nothing). */
  contextUsage(p: ContextUsageParams): boolean {
    if (this.usage && this.usage.seq > p.seq) return false;
    this.usage = p;
    return true;
  }

  turnCompleted(p: TurnCompletedParams): boolean {
    if (!this.fresh(p.seq)) return false;
    this.ended.add(p.turnId);
    if (this.runningTurn === p.turnId) this.runningTurn = undefined;
    this.items.set(`e:${p.turnId}`, {
      kind: "turnEnd",
      key: `e:${p.turnId}`,
      seq: p.seq,
      stopReason: p.stopReason,
      usage: p.usage,
      costUsd: p.costUsd,
      error: p.error ?? undefined,
      result: p.result ?? undefined,
    });
    // Nothing of this turn streams any more (its messages may still arrive).
    for (const i of this.items.values()) {
      if (i.kind === "assistant" && i.turnId === p.turnId) i.done = true;
    }
    return true;
  }
}
