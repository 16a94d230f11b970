import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { until } from "../helpers/wait.ts";
import { startReceiver, type Receiver } from "../helpers/webhook-receiver.ts";
import { startCluster, type Cluster, type Exit, type ParleyProcess } from "./helpers/cluster.ts";
import {
  createWebhook,
  followingSubscriber,
  operatorReplies,
  ordsOf,
  range,
  storedEvents,
  takeover,
  token,
  visitorSends,
  visitorStarts,
  widgetKey,
  type Event,
  type FollowingSubscriber,
} from "./helpers/clients.ts";

// Stopping one of two instances in the middle of a conversation (npm run test:cluster): gracefully
// (SIGTERM) and by a crash (SIGKILL). Messages are posted through both at once; every message
// that got a 2xx is kept, ords stay contiguous, every webhook event arrives, and the stopped
// instance's subscribers resume on the other one from the last ord they saw, without gap or duplicate.

let cluster: Cluster;
let receiver: Receiver;
const subscribers: FollowingSubscriber[] = [];

beforeAll(async () => {
  receiver = await startReceiver();
  cluster = await startCluster(["A", "B"]);
});
afterEach(async () => {
  await Promise.all(subscribers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await cluster?.close();
  await receiver?.close();
});

const MESSAGES = 30;
/** The stop is sent after this many posts; the rest go on while the instance shuts down and after. */
const STOP_AFTER = 10;

/**
 * `victim` and `survivor` share the conversation: both take posts at once (visitor messages on the
 * site-key API and operator replies on GraphQL), and the victim is stopped with `signal` after
 * STOP_AFTER posts, while they go on. Answers what was accepted and what the
 * subscribers and the webhook receiver got.
 */
async function midStreamStop(victim: ParleyProcess, survivor: ParleyProcess, signal: NodeJS.Signals, path: string) {
  onTestFailed(() => console.log(cluster.logs()));
  const [site, writer, reader] = await Promise.all([widgetKey(cluster), token(cluster, "write_all"), token(cluster, "read_all")]);
  await createWebhook(survivor, cluster.credentials.developerKey, receiver.url(path), ["conversation.message_received"]);
  const v = await visitorStarts(survivor, site, "Before the stop");
  // An operator holds the conversation: no assistant replies, only what the test posts is added.
  await takeover(survivor, writer, v.conversationId);
  const start = await storedEvents(survivor, reader, v.conversationId);

  // Subscribers on the victim, moving to the survivor when their connection ends.
  const follow = (...args: Parameters<typeof followingSubscriber>) => {
    const s = followingSubscriber(...args);
    subscribers.push(s);
    return s;
  };
  const operator = follow([victim.wsUrl, survivor.wsUrl], reader, { id: v.conversationId, after: 0 });
  const visitor = follow([victim.wsUrl, survivor.wsUrl], site, { id: v.conversationId, after: 0, token: v.visitorToken });
  await operator.until("the stored start", (items) => items.length >= start.length);
  await visitor.until("the stored start", (items) => items.length >= start.filter((e) => e.type === "message").length);

  // Two lanes post at once, one through each instance, so requests are in flight on the victim
  // when the signal arrives.
  const accepted: { text: string; via: string }[] = [];
  const refused: { text: string; via: string; outcome: string }[] = [];
  let posted = 0;
  let stopped: Promise<Exit> | undefined;
  const lane = async (p: ParleyProcess) => {
    for (let i = 0; i < MESSAGES / 2; i++) {
      if (posted++ === STOP_AFTER) stopped = signal === "SIGKILL" ? victim.kill() : victim.stop(signal);
      const text = `${signal} message ${i} via ${p.name}`;
      const outcome = i % 2 ? await operatorReplies(p, writer, v.conversationId, text) : await visitorSends(p, site, v.visitorToken, text);
      if (outcome === "ok") accepted.push({ text, via: p.name });
      else refused.push({ text, via: p.name, outcome });
    }
  };
  await Promise.all([lane(victim), lane(survivor)]);
  const exit = await stopped!;
  // Refused while it stops: no response (refused or reset connection) or 503, never another error.
  for (const r of refused) expect(r.outcome, r.text).toMatch(/^(no response|503 )/);
  return { v, reader, operator, visitor, accepted, refused, exit };
}

/** The conversation afterwards, as stored (read through the survivor). */
async function settled(survivor: ParleyProcess, reader: string, conversationId: string, accepted: { text: string }[]) {
  const stored = await storedEvents(survivor, reader, conversationId);
  expect(ordsOf(stored), "ords contiguous").toEqual(range(1, stored.length));
  const contents = stored.map((e) => e.content);
  for (const a of accepted) expect(contents.filter((c) => c === a.text), `"${a.text}" stored once`).toHaveLength(1);
  return stored;
}

/**
 * The subscribers' connections to the victim ended as `closedWith` says, they moved to the survivor,
 * and have exactly the stored events (operator) / messages (visitor).
 */
async function subscribersCaughtUp(
  victim: ParleyProcess,
  survivor: ParleyProcess,
  operator: FollowingSubscriber,
  visitor: FollowingSubscriber,
  stored: Event[],
  closedWith: RegExp,
) {
  const last = stored.at(-1)!;
  await operator.until("the last stored event", (items) => items.some((e) => e.ord === last.ord));
  const messages = stored.filter((e) => e.type === "message");
  await visitor.until("the last stored message", (items) => items.some((e) => e.ord === messages.at(-1)!.ord));
  expect(operator.items).toEqual(stored);
  expect(visitor.items.map((e) => e.id)).toEqual(messages.map((e) => e.id));
  for (const s of [operator, visitor]) {
    expect(s.connections.map((c) => c.url)).toEqual([victim.wsUrl, survivor.wsUrl]);
    expect(s.connections[0]!.ended).toMatch(closedWith);
    expect(s.connections[1]!.ended).toBeUndefined();
    expect(s.errors).toEqual([]);
  }
}

/** The receiver's deliveries for `path`, by message id (each webhook-id once per message). */
function webhookMessages(path: string) {
  const byMessage = new Map<string, Set<string>>();
  for (const h of receiver.hooks(path)) {
    const id = String(h.body?.data?.message?.id);
    byMessage.set(id, (byMessage.get(id) ?? new Set()).add(String(h.headers["webhook-id"])));
  }
  return byMessage;
}

describe("stopping an instance mid-stream", () => {
  it("SIGTERM: it exits cleanly; no accepted message or webhook is lost; its subscribers resume on the other instance", async () => {
    const [A, B] = cluster.processes as [ParleyProcess, ParleyProcess];
    const path = "/sigterm";
    const run = await midStreamStop(A, B, "SIGTERM", path);
    expect(run.exit).toEqual({ code: 0, signal: null });
    expect(run.accepted.length).toBeGreaterThan(MESSAGES / 2);
    const stored = await settled(B, run.reader, run.v.conversationId, run.accepted);
    // Graceful: a request the victim took was answered; what got no answer was never processed.
    const contents = new Set(stored.map((e) => e.content));
    expect(run.refused.filter((r) => contents.has(r.text)), "stored without an answer").toEqual([]);
    // A close code clients reconnect on: going away, service restart or try again later (RFC 6455).
    await subscribersCaughtUp(A, B, run.operator, run.visitor, stored, /^closed (1001|1012|1013)\b/);
    // Every visitor message (the conversation's first included) reaches the webhook exactly once.
    const visitorMessages = stored.filter((e) => e.type === "message" && e.author === "visitor");
    await until("a delivery per visitor message", async () => webhookMessages(path).size >= visitorMessages.length, { timeoutMs: 90_000, intervalMs: 100 });
    const delivered = webhookMessages(path);
    expect([...delivered.keys()].sort()).toEqual(visitorMessages.map((e) => e.id).sort());
    expect(receiver.hooks(path)).toHaveLength(visitorMessages.length);
  });

  it("SIGKILL: no accepted message or webhook is lost (a delivery may repeat, same webhook-id); subscribers resume on the other instance", async () => {
    // A fresh victim next to B (A is gone after the SIGTERM test).
    const B = cluster.processes[1]!;
    const C = await cluster.start("C");
    const path = "/sigkill";
    const run = await midStreamStop(C, B, "SIGKILL", path);
    expect(run.exit).toEqual({ code: null, signal: "SIGKILL" });
    expect(run.accepted.length).toBeGreaterThan(MESSAGES / 2);
    const stored = await settled(B, run.reader, run.v.conversationId, run.accepted);
    // No close frame from a killed process: the connection just drops (1006).
    await subscribersCaughtUp(C, B, run.operator, run.visitor, stored, /^closed 1006\b/);
    // A delivery the killed instance had claimed is sent again by B once its lease has run out:
    // at least once, with the same delivery id.
    const visitorMessages = stored.filter((e) => e.type === "message" && e.author === "visitor");
    await until("a delivery per visitor message", async () => webhookMessages(path).size >= visitorMessages.length, { timeoutMs: 150_000, intervalMs: 200 });
    const delivered = webhookMessages(path);
    expect([...delivered.keys()].sort()).toEqual(visitorMessages.map((e) => e.id).sort());
    for (const [message, ids] of delivered) expect(ids.size, `deliveries of message ${message}`).toBe(1);
  });
});
