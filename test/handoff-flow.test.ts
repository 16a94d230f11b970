import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DONT_KNOW } from "../src/ai/kb-responder.ts";
import { extractiveSummary, matchProfileByWords } from "../src/services/handoff-brief.ts";
import { DEFAULT_SETTINGS } from "../src/services/handoff-config-input.ts";
import { mentionsKeyword, readOfferAnswer, soundsFrustrated } from "../src/services/handoff-triggers.ts";
import { handoffHelpers, type Assistant } from "./helpers/handoff.ts";
import { errorCodes, http } from "./helpers/http.ts";
import { png } from "./helpers/images.ts";
import { startLlmStub, type LlmStub, type StubReply, type StubRequest } from "./helpers/llm-stub.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { until } from "./helpers/wait.ts";

// The automatic human handoff in the chat flow (issue 5, item 2), through the site-key API and
// GraphQL: what triggers an offer, the visitor's answer, the move to human operators, the summary,
// the routing and the notifications (no SMTP here: they stay in the outbox).

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
let server: TestServer;
let t: Tenant;

beforeAll(async () => {
  server = await startServer({ jobs: JOBS });
  t = await seed(server.app).workspace("Handoff flow");
});
afterAll(() => server?.stop());

const h = handoffHelpers(() => server);
const { callJson, gql, graphql } = http(() => server);

const ACTIVE = { settings: { is_active: true } };
const QUESTION = DEFAULT_SETTINGS.question_message;
const CONFIRMED = DEFAULT_SETTINGS.confirmation_message;
const OFF = (...names: string[]) => names.map((name) => ({ name, is_active: false }));

describe("lack_of_knowledge", () => {
  it("an answer the knowledge base can't give is followed by the offer; yes hands the conversation to human operators", async () => {
    const a = await h.assistant(t, ACTIVE);
    const v = await h.start(a.site, "Can I pay for my order with bitcoin?");
    // The inline reply is the last thing the assistant asked.
    expect(v.autoReply).toBe(QUESTION);
    let events = await h.events(v.conversationId);
    expect(events.map((e) => [e.author, e.content, e.handoffState])).toEqual([
      ["ai_assistant", expect.any(String), null],
      ["visitor", "Can I pay for my order with bitcoin?", null],
      ["ai_assistant", DONT_KNOW, null],
      ["ai_assistant", QUESTION, "offered"],
    ]);
    expect(events[2]!.messageInsights).toMatchObject({ answered: false });
    expect(events[3]!.messageInsights).toMatchObject({ handoff_trigger: "lack_of_knowledge" });
    expect(await h.conversation(v.conversationId)).toMatchObject({ handoffPhase: "offered", handoffTrigger: "lack_of_knowledge", status: "active" });

    await h.say(a, v.visitorToken, "Yes please!");
    const c = await h.conversation(v.conversationId);
    expect(c).toMatchObject({ status: "human_active", assigneeType: "human_operator", handoffPhase: "human" });
    expect(c.handedOffAt).toBeInstanceOf(Date);
    // ai_summary_active (the default): the visitor's key sentences, no LLM configured.
    expect(c.handoffSummary).toContain("Can I pay for my order with bitcoin?");
    events = await h.events(v.conversationId);
    expect(events.slice(4).map((e) => [e.author, e.content, e.handoffState])).toEqual([
      ["visitor", "Yes please!", "accepted"],
      ["ai_assistant", CONFIRMED, "human_active"],
    ]);
    expect(events[5]!.messageInsights).toMatchObject({ handoff: "accepted", handoff_trigger: "lack_of_knowledge", within_working_hours: true });

    // Operators see it in GraphQL.
    const res = await gql(a.reader, `query ($id: ID!) { conversation(id: $id) { status assignee { type } handoffSummary handoff { phase trigger summary handedOffAt routingProfileId } } }`, {
      id: v.conversationId,
    });
    expect(res.errors).toBeUndefined();
    expect(res.data.conversation).toMatchObject({
      status: "human_active",
      assignee: { type: "human_operator" },
      handoffSummary: c.handoffSummary,
      handoff: { phase: "human", trigger: "lack_of_knowledge", summary: c.handoffSummary, routingProfileId: null },
    });

    // While people hold it, the assistant says nothing.
    await h.say(a, v.visitorToken, "Hello? How long does shipping take?");
    const after = await h.events(v.conversationId);
    expect(after.length).toBe(7);
    expect(after[6]!.author).toBe("visitor");
  });
});

describe("triggers", () => {
  it("keywords: case-insensitive whole phrases; the assistant asks instead of answering", async () => {
    const a = await h.assistant(t, { settings: { is_active: true, keywords: ["speak to human", "agent"] }, generic_guidelines: OFF("lack_of_knowledge") });
    const v = await h.start(a.site, "Do your agents ship to the UK?");
    // "agents" is not the keyword "agent": answered from the knowledge base.
    expect(v.autoReply).toContain("ship to the EU and the UK");
    expect((await h.conversation(v.conversationId)).handoffPhase).toBe("none");

    await h.say(a, v.visitorToken, "Can I SPEAK to   Human?");
    const events = await h.events(v.conversationId);
    expect(events.slice(-2).map((e) => [e.author, e.content, e.handoffState])).toEqual([
      ["visitor", "Can I SPEAK to   Human?", null],
      ["ai_assistant", QUESTION, "offered"],
    ]);
    expect(await h.conversation(v.conversationId)).toMatchObject({ handoffPhase: "offered", handoffTrigger: "keyword" });
  });

  it("user_frustration: a strongly negative message by its own AFINN score; only while the guideline is active", async () => {
    const on = await h.assistant(t, { ...ACTIVE, generic_guidelines: OFF("lack_of_knowledge") });
    const v = await h.start(on.site, "How long does shipping take?");
    expect(v.autoReply).toContain("3 to 5 days");
    await h.say(on, v.visitorToken, "This is useless, I am so frustrated with your shipping!");
    expect(await h.conversation(v.conversationId)).toMatchObject({ handoffPhase: "offered", handoffTrigger: "user_frustration" });
    expect((await h.events(v.conversationId)).at(-1)).toMatchObject({ content: QUESTION, handoffState: "offered" });

    const off = await h.assistant(t, { ...ACTIVE, generic_guidelines: OFF("lack_of_knowledge", "user_frustration") });
    const w = await h.start(off.site, "This is useless, I am so frustrated with your shipping!");
    expect(w.autoReply).not.toBe(QUESTION);
    expect((await h.conversation(w.conversationId)).handoffPhase).toBe("none");
  });

  it("media_message: the visitor sends a file", async () => {
    const a = await h.assistant(t, { ...ACTIVE, generic_guidelines: OFF("lack_of_knowledge") });
    const v = await h.start(a.site, "How long does shipping take?");
    const form = new FormData();
    form.append("message", "Here is a photo of the label");
    form.append("files[]", new Blob([new Uint8Array(png())], { type: "image/png" }), "label.png");
    const up = await fetch(`${server.url}/api/v1/chat/conversations/${v.visitorToken}/messages`, { method: "POST", headers: { authorization: `Bearer ${a.site}` }, body: form });
    expect(up.status).toBe(201);
    await h.settle(a.scenarioId);
    expect(await h.conversation(v.conversationId)).toMatchObject({ handoffPhase: "offered", handoffTrigger: "media_message" });
    expect((await h.events(v.conversationId)).at(-1)).toMatchObject({ content: QUESTION, handoffState: "offered" });
  });

  it("with handoff off nothing happens: keywords, frustration, files and unanswerable questions get the assistant's answer", async () => {
    const a = await h.assistant(t);
    const v = await h.start(a.site, "Can I pay with bitcoin? I want to speak to human, agent now!");
    expect(v.autoReply).toBe(DONT_KNOW);
    await h.say(a, v.visitorToken, "This is useless, I am so frustrated and angry!");
    const form = new FormData();
    form.append("files[]", new Blob([new Uint8Array(png())], { type: "image/png" }), "photo.png");
    expect((await fetch(`${server.url}/api/v1/chat/conversations/${v.visitorToken}/messages`, { method: "POST", headers: { authorization: `Bearer ${a.site}` }, body: form })).status).toBe(201);
    await h.settle(a.scenarioId);
    const events = await h.events(v.conversationId);
    expect(events.every((e) => e.handoffState === null)).toBe(true);
    expect(events.map((e) => e.author)).toEqual(["ai_assistant", "visitor", "ai_assistant", "visitor", "ai_assistant", "visitor", "ai_assistant"]);
    expect(await h.conversation(v.conversationId)).toMatchObject({ handoffPhase: "none", status: "active" });
  });
});

describe("the visitor's answer", () => {
  const KEYWORD_ONLY = { settings: { is_active: true, keywords: ["agent"] }, generic_guidelines: OFF("lack_of_knowledge") };

  it.each(["yes", "Yeah, sure!", "ok", "Oui, volontiers", "Sí, por favor", "Ja, gerne", "please connect me"])("%j accepts", async (answer) => {
    const a = await h.assistant(t, KEYWORD_ONLY);
    const v = await h.start(a.site, "I need an agent");
    expect(v.autoReply).toBe(QUESTION);
    await h.say(a, v.visitorToken, answer);
    expect(await h.conversation(v.conversationId)).toMatchObject({ status: "human_active", handoffPhase: "human" });
    expect((await h.events(v.conversationId)).at(-1)).toMatchObject({ content: CONFIRMED, handoffState: "human_active" });
  });

  it("no: the assistant goes on answering and doesn't offer again at once; asking for a person again does", async () => {
    const a = await h.assistant(t, ACTIVE);
    const v = await h.start(a.site, "Can I pay with bitcoin?");
    expect(v.autoReply).toBe(QUESTION);
    await h.say(a, v.visitorToken, "No thanks");
    let c = await h.conversation(v.conversationId);
    expect(c).toMatchObject({ status: "active", handoffPhase: "declined" });
    let events = await h.events(v.conversationId);
    expect(events[4]).toMatchObject({ author: "visitor", content: "No thanks", handoffState: "declined" });
    expect(events[5]).toMatchObject({ author: "ai_assistant" });
    expect(events[5]!.content).not.toBe(QUESTION);

    // Unanswerable again, right after: answered, no new offer.
    await h.say(a, v.visitorToken, "Do you sell gift cards?");
    events = await h.events(v.conversationId);
    expect(events.at(-1)).toMatchObject({ author: "ai_assistant", content: DONT_KNOW, handoffState: null });
    await h.say(a, v.visitorToken, "How long does shipping take?");
    expect((await h.events(v.conversationId)).at(-1)!.content).toContain("3 to 5 days");

    // The visitor asks for a person: offered again, and yes this time.
    await h.say(a, v.visitorToken, "Actually, let me speak to human");
    c = await h.conversation(v.conversationId);
    expect(c).toMatchObject({ handoffPhase: "offered", handoffTrigger: "keyword" });
    await h.say(a, v.visitorToken, "yes");
    expect(await h.conversation(v.conversationId)).toMatchObject({ status: "human_active", handoffPhase: "human" });
  });

  it("something else: the visitor moved on; the question is answered", async () => {
    const a = await h.assistant(t, KEYWORD_ONLY);
    const v = await h.start(a.site, "Is there an agent around?");
    await h.say(a, v.visitorToken, "How long does shipping take?");
    expect(await h.conversation(v.conversationId)).toMatchObject({ status: "active", handoffPhase: "declined" });
    const events = await h.events(v.conversationId);
    expect(events.at(-2)).toMatchObject({ author: "visitor", handoffState: null });
    expect(events.at(-1)!.content).toContain("3 to 5 days");
  });

  describe("respondToHandoff (the widget's buttons)", () => {
    const RESPOND = `mutation ($token: String!, $accept: Boolean!) { respondToHandoff(visitorToken: $token, accept: $accept) { id status } }`;

    it("accept hands over, decline lets the assistant go on; without an open offer: CONFLICT", async () => {
      const a = await h.assistant(t, KEYWORD_ONLY);
      const v = await h.start(a.site, "agent please");
      const res = await gql(a.site, RESPOND, { token: v.visitorToken, accept: true });
      expect(res.errors).toBeUndefined();
      expect(res.data.respondToHandoff).toEqual({ id: v.conversationId, status: "human_active" });
      expect((await h.events(v.conversationId)).at(-1)).toMatchObject({ author: "ai_assistant", content: CONFIRMED, handoffState: "human_active" });
      // Already handed over: nothing to answer.
      expect(errorCodes(await gql(a.site, RESPOND, { token: v.visitorToken, accept: true }))).toEqual(["CONFLICT"]);

      const w = await h.start(a.site, "agent please");
      const declined = await gql(a.site, RESPOND, { token: w.visitorToken, accept: false });
      expect(declined.data.respondToHandoff).toEqual({ id: w.conversationId, status: "active" });
      expect(await h.conversation(w.conversationId)).toMatchObject({ handoffPhase: "declined", status: "active" });
      expect(errorCodes(await gql(a.site, RESPOND, { token: w.visitorToken, accept: true }))).toEqual(["CONFLICT"]);
      expect((await h.conversation(w.conversationId)).status).toBe("active");
    });

    it("an unknown visitor token or another assistant's widget key is NOT_FOUND; an operator credential is refused", async () => {
      const a = await h.assistant(t, KEYWORD_ONLY);
      const b = await h.assistant(t, KEYWORD_ONLY);
      const v = await h.start(a.site, "agent please");
      expect(errorCodes(await gql(a.site, RESPOND, { token: "vt-does-not-exist", accept: true }))).toEqual(["NOT_FOUND"]);
      expect(errorCodes(await gql(b.site, RESPOND, { token: v.visitorToken, accept: true }))).toEqual(["NOT_FOUND"]);
      expect(errorCodes(await gql(a.writer, RESPOND, { token: v.visitorToken, accept: true }))).toEqual(["PERMISSION_DENIED"]);
      expect(await h.conversation(v.conversationId)).toMatchObject({ handoffPhase: "offered", status: "active" });
    });
  });
});

/** A weekday (as the configuration spells it) `days` after today in UTC. */
const weekdayIn = (days: number) =>
  ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"][(new Date().getUTCDay() + days) % 7]!;

describe("working hours", () => {
  const KEYWORD = { keywords: ["agent"] };

  it("inside the availability slots: confirmation_message; outside: confirmation_outside_working_hours_message (still handed over)", async () => {
    const inside = await h.assistant(t, {
      settings: { is_active: true, ...KEYWORD, working_hours_active: true, timezone: "UTC", confirmation_message: "Connecting you now." },
      availability: [{ day_span: "monday-sunday", start_time: "00:00", end_time: "24:00" }],
    });
    const v = await h.start(inside.site, "agent");
    await h.say(inside, v.visitorToken, "yes");
    expect((await h.events(v.conversationId)).at(-1)).toMatchObject({ content: "Connecting you now.", messageInsights: expect.objectContaining({ within_working_hours: true }) });

    const outside = await h.assistant(t, {
      settings: {
        is_active: true,
        ...KEYWORD,
        working_hours_active: true,
        timezone: "UTC",
        confirmation_outside_working_hours_message: "We are closed; we'll write back tomorrow.",
      },
      availability: [{ day_span: weekdayIn(3), start_time: "00:00", end_time: "24:00" }],
    });
    const w = await h.start(outside.site, "agent");
    await h.say(outside, w.visitorToken, "yes");
    expect((await h.events(w.conversationId)).at(-1)).toMatchObject({
      content: "We are closed; we'll write back tomorrow.",
      handoffState: "human_active",
      messageInsights: expect.objectContaining({ within_working_hours: false }),
    });
    expect(await h.conversation(w.conversationId)).toMatchObject({ status: "human_active", handoffPhase: "human" });
  });
});

describe("routing and notifications (no SMTP: the outbox)", () => {
  const OUTBOX = `{ outbox(first: 20) { totalCount nodes { to subject text kind status conversationId scenarioId } } }`;

  it("the profile matching the topic gets the email; without a match settings.emails do; the outbox shows them", async () => {
    const ann = await h.member(t.workspaceId, "Ann", "ann.billing@example.com");
    const ben = await h.member(t.workspaceId, "Ben", "ben.billing@example.com");
    const tom = await h.member(t.workspaceId, "Tom", "tom.tech@example.com");
    const a = await h.assistant(t, {
      settings: { is_active: true, send_email_notification: true, emails: ["support@example.com"] },
      routing_profiles: [
        { name: "Billing", description: "Invoices, payments, charges and refunds", is_active: true, user_ids: [ann.userId, ben.userId] },
        { name: "Technical support", description: "Login problems, error messages, the app crashing", is_active: true, user_ids: [tom.userId] },
        { name: "Inactive billing", description: "Invoices invoices invoices payments", is_active: false, user_ids: [tom.userId] },
      ],
    });
    const billing = (await server.app.runtime.db.handoffRoutingProfile.findFirstOrThrow({ where: { scenarioId: a.scenarioId, name: "Billing" } })).id;

    const v = await h.start(a.site, "My invoice shows a payment I never made");
    expect(v.autoReply).toBe(QUESTION);
    await h.say(a, v.visitorToken, "yes");
    const c = await h.conversation(v.conversationId);
    expect(c).toMatchObject({ status: "human_active", handoffRoutingProfileId: billing });

    const w = await h.start(a.site, "Which moons of Jupiter have oceans?");
    await h.say(a, w.visitorToken, "yes");
    expect((await h.conversation(w.conversationId)).handoffRoutingProfileId).toBeNull();

    const rows = await server.app.runtime.db.outboundEmail.findMany({ where: { scenarioId: a.scenarioId }, orderBy: [{ createdAt: "asc" }, { to: "asc" }] });
    expect(rows.map((r) => [r.conversationId, r.to])).toEqual([
      [v.conversationId, "ann.billing@example.com"],
      [v.conversationId, "ben.billing@example.com"],
      [w.conversationId, "support@example.com"],
    ]);
    // No SMTP server configured: each send job leaves its email in the outbox.
    const settled = async () => (await server.app.runtime.db.outboundEmail.count({ where: { scenarioId: a.scenarioId, status: "outbox" } })) === 3;
    await until("the email jobs", settled);

    const res = await gql(a.reader, OUTBOX);
    expect(res.errors).toBeUndefined();
    expect(res.data.outbox.totalCount).toBe(3);
    const mail = res.data.outbox.nodes.find((n: { to: string }) => n.to === "ann.billing@example.com");
    expect(mail).toMatchObject({ kind: "handoff_notification", status: "outbox", conversationId: v.conversationId, scenarioId: a.scenarioId });
    expect(mail.subject).toContain(`#${c.ord}`);
    expect(mail.text).toContain("Routing: Billing");
    expect(mail.text).toContain("My invoice shows a payment I never made");
    expect(mail.text).toContain(v.conversationId);

    // The operators' view names the profile.
    const view = await gql(a.reader, `query ($id: ID!) { conversation(id: $id) { handoff { routingProfileId routingProfileName } } }`, { id: v.conversationId });
    expect(view.data.conversation.handoff).toEqual({ routingProfileId: billing, routingProfileName: "Billing" });
  });

  it("send_email_notification off: no email; ai_summary_active off: no summary", async () => {
    const ann = await h.member(t.workspaceId, "Ann Quiet", "ann.quiet@example.com");
    const a = await h.assistant(t, {
      settings: { is_active: true, send_email_notification: false, ai_summary_active: false, emails: ["support@example.com"] },
      routing_profiles: [{ name: "Billing", description: "Invoices and payments", is_active: true, user_ids: [ann.userId] }],
    });
    const v = await h.start(a.site, "My invoice shows a payment I never made");
    await h.say(a, v.visitorToken, "yes");
    const c = await h.conversation(v.conversationId);
    expect(c).toMatchObject({ status: "human_active", handoffSummary: null });
    expect(c.handoffRoutingProfileId).not.toBeNull();
    expect(await server.app.runtime.db.outboundEmail.count({ where: { scenarioId: a.scenarioId } })).toBe(0);
  });

  it("the outbox is for operators: workspace:admin keys see the workspace, tokens their scenario, others nothing", async () => {
    const admin = (await t.developerKey(["workspace:admin"])).secret;
    const noAdmin = (await t.developerKey(["conversations:read"])).secret;
    const a = await h.assistant(t);
    const stranger = await seed(server.app).workspace("Other tenant");
    const strangerAdmin = (await stranger.developerKey(["workspace:admin"])).secret;

    const all = await gql(admin, OUTBOX);
    expect(all.errors).toBeUndefined();
    const own = await gql(a.reader, OUTBOX);
    expect(own.data.outbox.totalCount).toBe(0);
    expect(all.data.outbox.totalCount).toBeGreaterThan(0);
    expect((await gql(strangerAdmin, OUTBOX)).data.outbox.totalCount).toBe(0);
    expect(errorCodes(await gql(noAdmin, OUTBOX))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(a.site, OUTBOX))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes((await graphql(OUTBOX)).body)).toEqual(["PERMISSION_DENIED"]);

    // Paging: first/after.
    const page1 = await gql(admin, `{ outbox(first: 1) { pageInfo { hasNextPage endCursor } nodes { id } } }`);
    const page2 = await gql(admin, `query ($after: String) { outbox(first: 1, after: $after) { nodes { id } } }`, { after: page1.data.outbox.pageInfo.endCursor });
    expect(page1.data.outbox.pageInfo.hasNextPage).toBe(true);
    expect(page2.data.outbox.nodes[0].id).not.toBe(page1.data.outbox.nodes[0].id);
  });
});

describe("cost on the chat path", () => {
  /** The lane statements of one POST /chat turn (after a first one warmed the caches), job polling left out. */
  async function statementsOfATurn(a: Assistant) {
    const key = (await a.tenant.legacyKey()).secret;
    const first = await callJson("/chat", { method: "POST", body: { api_key: key, scenario_id: a.scenarioId, text: "How long does shipping take?" } });
    expect(first.status).toBe(200);
    const seen: string[] = [];
    const stop = server.app.runtime.sql.observe((text) => {
      if (!text.includes('"Job"')) seen.push(text);
    });
    try {
      const res = await callJson("/chat", { method: "POST", body: { api_key: key, scenario_id: a.scenarioId, conv_id: first.body.conv_id, text: "Do you ship to the UK?" } });
      expect(res.status).toBe(200);
      expect(res.body.reply).toContain("UK");
    } finally {
      stop();
    }
    return seen;
  }

  it("handoff off costs no statement; on, a message that triggers nothing costs one (the file look-up), never a configuration read", async () => {
    const off = await statementsOfATurn(await h.assistant(t));
    const on = await statementsOfATurn(await h.assistant(t, ACTIVE));
    expect(off.filter((s) => s.includes("Handoff") || s.includes("MessageAttachment"))).toEqual([]);
    expect(on.filter((s) => s.includes("Handoff"))).toEqual([]);
    expect(on.filter((s) => s.includes("MessageAttachment"))).toHaveLength(1);
    expect(on.length).toBe(off.length + 1);

    // Without media_message there is nothing to look up.
    const noMedia = await statementsOfATurn(await h.assistant(t, { ...ACTIVE, generic_guidelines: OFF("media_message") }));
    expect(noMedia.length).toBe(off.length);
  });

  it("a configuration change is seen by the next message (the cache forgets it)", async () => {
    const a = await h.assistant(t);
    const v = await h.start(a.site, "I need an agent");
    expect(v.autoReply).toBe(DONT_KNOW);
    await h.configure(a.writer, { settings: { is_active: true, keywords: ["agent"] } });
    await h.say(a, v.visitorToken, "I need an agent");
    expect(await h.conversation(v.conversationId)).toMatchObject({ handoffPhase: "offered", handoffTrigger: "keyword" });
  });
});

describe("with an LLM", () => {
  let llmServer: TestServer;
  let llm: LlmStub;
  let u: Tenant;
  const hl = handoffHelpers(() => llmServer);
  const GUIDELINE_PROMPT = "should be handed to a human operator";
  const BRIEF_PROMPT = "being handed from an AI assistant";
  const system = (r: StubRequest) => r.body.messages.find((m) => m.role === "system")?.content ?? "";
  const user = (r: StubRequest) => r.body.messages.filter((m) => m.role === "user").map((m) => m.content).join("\n");
  let guidelineAnswer: (r: StubRequest) => StubReply;
  let briefAnswer: (r: StubRequest) => StubReply;

  beforeAll(async () => {
    llm = await startLlmStub();
    llm.respond((r) => {
      if (system(r).includes(GUIDELINE_PROMPT)) return guidelineAnswer(r);
      if (system(r).includes(BRIEF_PROMPT)) return briefAnswer(r);
      if (r.body.response_format) {
        return { content: JSON.stringify({ title: "Chat", topic: null, sentiment: "neutral", resolution_status: "open", is_flagged: false, flag_reason: null }) };
      }
      return { content: "Happy to help with that." };
    });
    llmServer = await startServer({ jobs: JOBS }, { LLM_BASE_URL: llm.url, LLM_MODEL: "test-model" });
    u = await seed(llmServer.app).workspace("Handoff LLM");
  });
  afterAll(async () => {
    await llmServer?.stop();
    await llm?.stop();
  });

  const guidelineRequests = () => llm.requests.filter((r) => system(r).includes(GUIDELINE_PROMPT));

  it("a custom guideline the model says applies triggers the offer; the summary and the routing come from the model", async () => {
    const ann = await hl.member(u.workspaceId, "Ann", "ann@example.com");
    const a = await hl.assistant(u, {
      ...ACTIVE,
      custom_guidelines: [{ name: "Refund requests", description: "The visitor wants money back for an order", is_active: true }],
      routing_profiles: [
        { name: "Logistics", description: "Parcels and delivery", is_active: true, user_ids: [ann.userId] },
        { name: "Payments", description: "Money matters", is_active: true, user_ids: [ann.userId] },
      ],
    });
    const db = llmServer.app.runtime.db;
    const custom = await db.handoffCustomGuideline.findFirstOrThrow({ where: { scenarioId: a.scenarioId } });
    const payments = await db.handoffRoutingProfile.findFirstOrThrow({ where: { scenarioId: a.scenarioId, name: "Payments" } });
    guidelineAnswer = (r) => ({ content: JSON.stringify({ guideline: user(r).includes("kettle") ? `custom:${custom.id}` : null }) });
    briefAnswer = () => ({ content: JSON.stringify({ summary: "Wants money back for a broken kettle.", routing_profile_id: payments.id }) });

    const v = await hl.start(a.site, "Hello, what can you do?");
    expect(v.autoReply).toBe("Happy to help with that.");
    await hl.say(a, v.visitorToken, "My kettle arrived broken, I want my money back");
    expect(await hl.conversation(v.conversationId)).toMatchObject({ handoffPhase: "offered", handoffTrigger: `custom:${custom.id}` });
    const asked = guidelineRequests().at(-1)!;
    expect(user(asked)).toContain("The visitor wants money back for an order");
    expect(user(asked)).toContain(`custom:${custom.id}`);
    // customer_support_suggestion is active by default; irrelevant_advice is not.
    expect(user(asked)).toContain("customer_support_suggestion");
    expect(user(asked)).not.toContain("irrelevant_advice");

    await hl.say(a, v.visitorToken, "yes");
    expect(await hl.conversation(v.conversationId)).toMatchObject({
      status: "human_active",
      handoffSummary: "Wants money back for a broken kettle.",
      handoffRoutingProfileId: payments.id,
    });
  });

  it("only active guidelines are asked about: none active, no question to the model", async () => {
    const a = await hl.assistant(u, {
      ...ACTIVE,
      generic_guidelines: OFF("customer_support_suggestion"),
      custom_guidelines: [{ name: "Refund requests", description: "The visitor wants money back", is_active: false }],
    });
    const before = guidelineRequests().length;
    const v = await hl.start(a.site, "My kettle arrived broken, I want my money back");
    expect(v.autoReply).toBe("Happy to help with that.");
    expect(guidelineRequests().length).toBe(before);
    expect((await hl.conversation(v.conversationId)).handoffPhase).toBe("none");
  });

  it("a failing model offers nothing; a failing summary falls back to the visitor's sentences", async () => {
    const a = await hl.assistant(u, { settings: { is_active: true, keywords: ["agent"] } });
    guidelineAnswer = () => ({ status: 500, body: '{"error":{"message":"boom"}}' });
    briefAnswer = () => ({ status: 500, body: '{"error":{"message":"boom"}}' });
    const v = await hl.start(a.site, "My kettle arrived broken, I want my money back");
    expect(v.autoReply).toBe("Happy to help with that.");
    await hl.say(a, v.visitorToken, "Please get me an agent");
    await hl.say(a, v.visitorToken, "yes");
    const c = await hl.conversation(v.conversationId);
    expect(c.status).toBe("human_active");
    expect(c.handoffSummary).toContain("My kettle arrived broken, I want my money back");
  });
});

describe("rules", () => {
  it("readOfferAnswer: yes and no in English, French, Spanish and German; a question is neither", () => {
    for (const yes of ["yes", "Yes!", "yeah", "sure thing", "OK", "okay 👍", "please", "Of course", "oui", "D'accord", "sí", "claro que sí", "vale", "ja bitte", "gerne", "I need an AGENT"]) {
      expect(readOfferAnswer(yes, ["agent"]), yes).toBe("yes");
    }
    for (const no of ["no", "No thanks", "nope", "not now", "non merci", "no gracias", "nein danke", "Nein, nicht jetzt"]) {
      expect(readOfferAnswer(no, ["agent"]), no).toBe("no");
    }
    for (const other of ["How long does shipping take?", "", "   ", "yes " + "word ".repeat(20)]) {
      expect(readOfferAnswer(other, ["agent"]), other).toBe("other");
    }
  });

  it("mentionsKeyword: whole words, any case and spacing, regex characters taken literally", () => {
    expect(mentionsKeyword(["speak to human"], "can I Speak  to HUMAN?")).toBe(true);
    expect(mentionsKeyword(["agent"], "agents ship it")).toBe(false);
    expect(mentionsKeyword(["agent"], "reagent")).toBe(false);
    expect(mentionsKeyword(["c++ help"], "I need C++ help")).toBe(true);
    expect(mentionsKeyword(["a.b"], "axb")).toBe(false);
    expect(mentionsKeyword([], "anything")).toBe(false);
  });

  it("soundsFrustrated: one strongly negative message, or a negative conversation still going down", () => {
    expect(soundsFrustrated(["This is useless, I am so frustrated"], ["This is useless, I am so frustrated"])).toBe(true);
    expect(soundsFrustrated(["How long does shipping take?"], ["How long does shipping take?"])).toBe(false);
    expect(soundsFrustrated(["still bad"], ["awful", "terrible, I hate it", "still bad"])).toBe(true);
    expect(soundsFrustrated(["ok great"], ["awful", "terrible, I hate it", "ok great"])).toBe(false);
  });

  it("the extractive summary keeps the visitor's key sentences in order; word routing prefers the topic", () => {
    const summary = extractiveSummary([
      { author: "visitor", content: "Hi" },
      { author: "ai_assistant", content: "Hello! How can I help?" },
      { author: "visitor", content: "My parcel never arrived. It was order 12345, sent last week to Berlin. Ok." },
      { author: "visitor", content: "yes please" },
    ]);
    expect(summary).toBe("The visitor wrote:\n- My parcel never arrived.\n- It was order 12345, sent last week to Berlin.");
    expect(extractiveSummary([{ author: "visitor", content: "yes" }])).toBeNull();

    const profiles = [
      { id: 1, name: "Billing", description: "Invoices and payments", is_active: true, user_ids: [] },
      { id: 2, name: "Delivery", description: "Parcels, shipping and tracking", is_active: true, user_ids: [] },
    ];
    expect(matchProfileByWords(profiles, null, "I want to pay my invoice")?.id).toBe(1);
    expect(matchProfileByWords(profiles, "Shipping", "where is my invoice")?.id).toBe(2);
    expect(matchProfileByWords(profiles, null, "What is the meaning of life?")).toBeNull();
  });
});
