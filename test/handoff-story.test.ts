import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DONT_KNOW } from "../src/ai/kb-responder.ts";
import { handoffHelpers, SHIPPING, RETURNS } from "./helpers/handoff.ts";
import { http } from "./helpers/http.ts";
import { wsSubscription } from "./helpers/live.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { startSmtpStub, type SmtpStub } from "./helpers/smtp-stub.ts";
import { until } from "./helpers/wait.ts";
import { graphqlWsClients } from "./helpers/ws.ts";

// Issue 5, "Done when": the whole story through real HTTP and WebSocket clients. A visitor on the
// site-key API asks what the knowledge base can't answer; the handoff is offered and accepted inside
// working hours; the operator of the matching routing profile gets an email (a local SMTP server);
// an external agent connected through GraphQL takes over on the Quincer routes and replies; the
// visitor, subscribed with its widget key and visitor token, gets the reply live; the agent hands
// back and the assistant answers the next question. Outside working hours the other message shows.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
const QUESTION = "Shall I put you through to one of our people?";
const CONFIRMED = "Great, Olivia or a colleague will be with you in a moment.";
const CLOSED = "We are closed right now; our team will answer here when we open.";

let smtp: SmtpStub;
let server: TestServer;
let t: Tenant;
let admin: string;

beforeAll(async () => {
  smtp = await startSmtpStub();
  server = await startServer({ jobs: JOBS }, { SMTP_URL: smtp.url, SMTP_FROM: "Parley <parley@shop.example>" });
  t = await seed(server.app).workspace("Story shop");
  admin = (await t.developerKey()).secret;
});
afterAll(async () => {
  await server?.stop();
  await smtp?.stop();
});

const h = handoffHelpers(() => server);
const { callJson, gql } = http(() => server);
const wsClient = graphqlWsClients(() => server.wsUrl);

const MESSAGE_ADDED = `subscription ($id: ID!, $after: Int, $token: String) {
  messageAdded(conversationId: $id, afterOrd: $after, visitorToken: $token) { ord author content handoffState authorName }
}`;

/** A weekday of the configuration `days` after today in UTC (never today when days is 3). */
const weekdayIn = (days: number) =>
  ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"][(new Date().getUTCDay() + days) % 7]!;

function configuration(olivia: number, availability: { day_span: string; start_time: string; end_time: string }[]) {
  return {
    settings: {
      is_active: true,
      question_message: QUESTION,
      confirmation_message: CONFIRMED,
      confirmation_outside_working_hours_message: CLOSED,
      working_hours_active: true,
      timezone: "UTC",
      send_email_notification: true,
      emails: ["frontdesk@shop.example"],
    },
    availability,
    routing_profiles: [
      { name: "Payments", description: "Payment methods, invoices, charges and refunds", is_active: true, user_ids: [olivia] },
      { name: "Warehouse", description: "Stock, packing and pallets", is_active: true, user_ids: [] },
    ],
  };
}

describe("the handoff story", () => {
  it("offer → yes → email to the operator → agent takes over, replies live → hands back → the assistant answers; closed hours get the other message", async () => {
    const olivia = await h.member(t.workspaceId, "Olivia", "olivia@shop.example");
    const a = await h.assistant(t, configuration(olivia.userId!, [{ day_span: "monday-sunday", start_time: "00:00", end_time: "24:00" }]), [SHIPPING, RETURNS]);

    // 1. The visitor asks what the knowledge base doesn't know: the assistant says so and offers people.
    const v = await h.start(a.site, "Can I pay for my order with bitcoin?");
    expect(v.autoReply).toBe(QUESTION);
    const visitor = wsSubscription(wsClient(a.site), MESSAGE_ADDED, { id: v.conversationId, after: 0, token: v.visitorToken });
    const offer = await visitor.next((e) => e.content === QUESTION);
    expect(offer).toMatchObject({ author: "ai_assistant", handoffState: "offered" });
    expect(visitor.items.map((e) => e.content)).toContain(DONT_KNOW);

    // 2. Inside working hours: yes → human operators, with the confirmation, live.
    await h.send(a.site, v.visitorToken, "Yes please");
    const confirmed = await visitor.next((e) => e.content === CONFIRMED);
    expect(confirmed).toMatchObject({ author: "ai_assistant", handoffState: "human_active" });
    const operator = await gql(admin, `query ($id: ID!) { conversation(id: $id) { status assignee { type } handoff { phase trigger summary routingProfileName } } }`, {
      id: v.conversationId,
    });
    expect(operator.data.conversation).toMatchObject({
      status: "human_active",
      assignee: { type: "human_operator" },
      handoff: { phase: "human", trigger: "lack_of_knowledge", routingProfileName: "Payments", summary: expect.stringContaining("bitcoin") },
    });

    // 3. The operator of the matching profile is notified by email (not the fallback address).
    const mail = await until("the operator's email", async () => smtp.messages.find((m) => m.text.includes(v.conversationId)));
    expect(mail.to).toEqual(["olivia@shop.example"]);
    expect(mail.text).toContain("Can I pay for my order with bitcoin?");
    expect(smtp.messages.filter((m) => m.to.includes("frontdesk@shop.example") && m.text.includes(v.conversationId))).toEqual([]);

    // 4. An external agent, connected through GraphQL, takes over on the Quincer routes.
    const connected = await gql(admin, `mutation { connectExternalAgent(name: "Claw") { secret member { id name } } }`);
    expect(connected.errors).toBeUndefined();
    const agent = connected.data.connectExternalAgent.secret as string;
    const taken = await callJson(`/api/v1/conversations/${v.conversationId}/takeover`, { method: "POST", token: agent });
    expect(taken.status, JSON.stringify(taken.body)).toBe(200);

    // 5. It replies; the visitor gets the message live, under the agent's name.
    const reply = await callJson(`/api/v1/conversations/${v.conversationId}/reply`, {
      method: "POST",
      token: agent,
      body: { message: "Hi Jane, Claw here. We take cards and bank transfers, not bitcoin." },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    const live = await visitor.next((e) => e.author === "human_operator" && e.content.includes("not bitcoin"));
    expect(live.authorName).toBe("Claw");
    const seen = await h.visitorMessages(a.site, v.visitorToken);
    expect(seen.at(-1)).toMatchObject({ direction: "outbound", author: "Claw", body: expect.stringContaining("not bitcoin") });

    // 6. It hands back; the assistant answers the next question again.
    expect((await h.conversation(v.conversationId)).handoffPhase).toBe("human");
    const back = await callJson(`/api/v1/conversations/${v.conversationId}/handback`, { method: "POST", token: agent });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    // Back with the assistant: a later trigger may offer people again.
    expect((await h.conversation(v.conversationId)).handoffPhase).toBe("none");
    await h.send(a.site, v.visitorToken, "Thanks! And how long does shipping take?");
    const answer = await visitor.next((e) => e.author === "ai_assistant" && e.content.includes("3 to 5 days"));
    expect(answer.handoffState).toBeNull();
    expect((await h.conversation(v.conversationId)).status).toBe("active");
    expect(visitor.errors).toEqual([]);

    // 7. Outside working hours the visitor is told the team is away (and the conversation still goes to people).
    await h.configure(a.writer, configuration(olivia.userId!, [{ day_span: weekdayIn(3), start_time: "09:00", end_time: "17:00" }]));
    const w = await h.start(a.site, "Can I pay for my order with bitcoin?");
    expect(w.autoReply).toBe(QUESTION);
    const late = wsSubscription(wsClient(a.site), MESSAGE_ADDED, { id: w.conversationId, after: 0, token: w.visitorToken });
    await h.send(a.site, w.visitorToken, "yes");
    expect(await late.next((e) => e.content === CLOSED)).toMatchObject({ author: "ai_assistant", handoffState: "human_active" });
    expect(late.items.map((e) => e.content)).not.toContain(CONFIRMED);
    expect((await h.conversation(w.conversationId)).status).toBe("human_active");
  });

  it("an agent who takes over while the offer is open settles it: after the handback a yes is no answer to it", async () => {
    const olivia = await h.member(t.workspaceId, "Olivia Two", "olivia.two@shop.example");
    const a = await h.assistant(t, configuration(olivia.userId!, [{ day_span: "monday-sunday", start_time: "00:00", end_time: "24:00" }]));
    const v = await h.start(a.site, "Can I pay for my order with bitcoin?");
    expect(v.autoReply).toBe(QUESTION);
    const key = (await t.developerKey(["conversations:read", "conversations:takeover", "conversations:reply", "conversations:handback"])).secret;
    expect((await callJson(`/api/v1/conversations/${v.conversationId}/takeover`, { method: "POST", token: key })).status).toBe(200);
    expect((await callJson(`/api/v1/conversations/${v.conversationId}/reply`, { method: "POST", token: key, body: { message: "Cards only, sorry." } })).status).toBe(201);
    expect((await callJson(`/api/v1/conversations/${v.conversationId}/handback`, { method: "POST", token: key })).status).toBe(200);

    const RESPOND = `mutation ($token: String!) { respondToHandoff(visitorToken: $token, accept: true) { status } }`;
    expect((await gql(a.site, RESPOND, { token: v.visitorToken })).errors?.[0]?.extensions?.code).toBe("CONFLICT");
    await h.say(a, v.visitorToken, "yes");
    const c = await h.conversation(v.conversationId);
    expect(c.status).toBe("active");
    const last = (await h.events(v.conversationId)).at(-1)!;
    expect(last.author).toBe("ai_assistant");
    expect(last.content).not.toBe(CONFIRMED);
  });
});
