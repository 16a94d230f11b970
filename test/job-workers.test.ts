import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";
import { graphqlWsClients } from "./helpers/ws.ts";
import { wsSubscription } from "./helpers/live.ts";
import { until } from "./helpers/wait.ts";

// JOB_WORKERS=1: the assistant's replies come from a worker process; what it publishes reaches
// this server's subscribers over IPC, in order, and the site-key messages show the reply.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
let server: TestServer;
let t: Tenant;
let reader: string;
let site: string;

beforeAll(async () => {
  server = await startServer({ jobs: JOBS, jobWorkers: 1 });
  t = await seed(server.app).workspace("Workers");
  reader = (await t.token("read_all")).secret;
  site = (await t.widgetKey()).secret;
  await t.knowledgeBase([{ title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 days." }]);
}, 60_000);
afterAll(() => server?.stop());

const wsClient = graphqlWsClients(() => server.wsUrl);
const { callJson } = http(() => server);
const MESSAGE_ADDED = `subscription ($id: ID!, $after: Int) { messageAdded(conversationId: $id, afterOrd: $after) { ord author content } }`;

async function start() {
  const visitorToken = `vt-${randomUUID()}`;
  const res = await callJson("/api/v1/chat/conversations", {
    method: "POST",
    token: site,
    body: { name: "Jane Doe", email: "jane@example.com", message: "Hello there", visitor_token: visitorToken },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { visitorToken, id: res.body.conversation_token as string };
}

async function send(visitorToken: string, message: string) {
  const res = await callJson(`/api/v1/chat/conversations/${visitorToken}/messages`, { method: "POST", token: site, body: { message } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** The assistant's reply at ord 5 (after greeting, first message, auto reply, second message), as operators see it. */
async function reply(id: string) {
  const sub = wsSubscription(wsClient(reader), `subscription ($id: ID!) { messageAdded(conversationId: $id, afterOrd: 4) { ord author messageInsights } }`, { id });
  try {
    return await sub.next((e) => e.ord === 5);
  } finally {
    sub.stop();
  }
}

describe("job worker processes", () => {
  it("run beside the server", () => {
    expect(server.app.jobWorkers?.pids()).toHaveLength(1);
    expect(server.app.jobWorkers!.pids()[0]).not.toBe(process.pid);
  });

  it("answer visitor messages; subscribers get the message and the worker's reply in order", async () => {
    const c = await start();
    const sub = wsSubscription(wsClient(reader), MESSAGE_ADDED, { id: c.id, after: 3 });
    await send(c.visitorToken, "How long does shipping take?");
    const [message, reply] = await sub.count(2);
    expect(message).toMatchObject({ ord: 4, author: "visitor" });
    expect(reply).toMatchObject({ ord: 5, author: "ai_assistant" });
    expect(reply.content).toMatch(/3 to 5 days/);
    sub.stop();
    const listed = await callJson(`/api/v1/chat/conversations/${c.visitorToken}/messages`, { token: site });
    expect(listed.body.at(-1)).toMatchObject({ direction: "outbound", body: reply.content });
  });

  it("settings changed on the server reach the worker's cache at once", async () => {
    // Streamed replies carry a stream_id; the worker has cached the widget's streaming switch (on).
    const first = await start();
    await send(first.visitorToken, "How long does shipping take?");
    const streamed = await reply(first.id);
    expect(streamed.messageInsights.stream_id).toBeTruthy();
    const writer = (await t.token("write_all")).secret;
    const off = await callJson("/v1/api/widget/configuration", { method: "PATCH", token: writer, body: { streaming_active: false } });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    const second = await start();
    await send(second.visitorToken, "How long does shipping take?");
    expect((await reply(second.id)).messageInsights.stream_id).toBeUndefined();
  });

  it("a worker that dies is replaced, and the replacement answers", { timeout: 90_000 }, async () => {
    const [pid] = server.app.jobWorkers!.pids();
    process.kill(pid!, "SIGKILL");
    await until("a replacement worker", async () => {
      const pids = server.app.jobWorkers!.pids();
      return pids.length === 1 && pids[0] !== pid;
    }, { timeoutMs: 10_000 });
    const c = await start();
    await send(c.visitorToken, "How long does shipping take?");
    await until("the replacement's answer", async () => {
      const listed = await callJson(`/api/v1/chat/conversations/${c.visitorToken}/messages`, { token: site });
      return listed.body.length === 5 && /3 to 5 days/.test(listed.body[4].body);
      // A new worker process takes a few seconds to load on a busy machine.
    }, { timeoutMs: 60_000, intervalMs: 100 });
  });
});
