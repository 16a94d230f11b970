import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SYSTEM } from "../src/auth/scopes.ts";
import { analyzeConversation } from "../src/ai/analysis.ts";
import {
  conversationSentiment,
  FLAG_REASONS,
  isClosing,
  titleFrom,
  unansweredRun,
  type AnalysisMessage,
} from "../src/ai/analysis-rules.ts";
import { detectLanguage, mostFrequentLanguage } from "../src/ai/language.ts";
import { postVisitorMessage, startConversation } from "../src/services/chat.ts";
import { createServiceContext } from "../src/services/context.ts";
import { appendEvent } from "../src/services/conversation-log.ts";
import { conversationView } from "../src/services/conversation-view.ts";
import { startLlmStub, type LlmStub } from "./helpers/llm-stub.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";

// Conversation analysis: languages, unified_analysis and the title, by rules and by an LLM.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
const KB = [
  { title: "Return policy", content: "You can return any item within 30 days of delivery.\n\nRefunds reach your card within 5 business days." },
  { title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 days." },
];
type Author = "visitor" | "ai_assistant" | "human_operator";

let server: TestServer;
let t: Tenant;

beforeAll(async () => {
  server = await startServer({ jobs: JOBS });
  t = await seed(server.app).workspace("Analysis");
  await t.knowledgeBase(KB);
});
afterAll(() => server?.stop());
afterEach(() => {
  vi.restoreAllMocks();
});

const ctxOf = (s: TestServer) => createServiceContext(s.app.runtime, SYSTEM);
const visitor = (...contents: string[]) => contents.map((content) => ({ author: "visitor" as Author, content }));

/** A seeded conversation (no replies), analysed; answers its view and its messages' languages. */
async function analyzed(messages: { author: Author; content: string }[], fields: { title?: string } = {}, s = server, tenant = t) {
  const c = await tenant.conversation(messages, fields);
  await analyzeConversation(ctxOf(s), c.id);
  return view(c.id, s);
}
async function view(id: string, s = server) {
  const row = await s.app.runtime.db.conversation.findUniqueOrThrow({ where: { id } });
  const events = await s.app.runtime.db.conversationEvent.findMany({ where: { conversationId: id }, orderBy: { ord: "asc" } });
  return { ...conversationView(row), language_counts: row.languageCounts, languages: events.map((e) => e.language) };
}

/** Chat through the flow with the default (knowledge-base) responder. */
async function chat(contents: string[], s = server, tenant = t) {
  const ctx = ctxOf(s);
  const { conversation } = await startConversation(
    ctx,
    { workspaceId: tenant.workspaceId, scenarioId: tenant.scenarioId, source: "api", welcome: true },
    null,
    "none",
  );
  for (const content of contents) {
    await postVisitorMessage(ctx, tenant.workspaceId, conversation.id, { content }, { mode: "inline", reopen: false });
  }
  return view(conversation.id, s);
}

describe("language", () => {
  it("detects each visitor message's language and the most frequent one", async () => {
    const v = await analyzed(
      visitor(
        "Bonjour, je voudrais retourner ma commande",
        "Est-ce que le remboursement est rapide ?",
        "Sorry, do you speak English as well?",
        "¿Cuánto tiempo tarda el envío a Madrid?",
        "Wie lange dauert der Versand nach Berlin?",
      ),
    );
    expect(v.languages).toEqual(["fr", "fr", "en", "es", "de"]);
    expect(v.language_counts).toEqual({ fr: 2, en: 1, es: 1, de: 1 });
    expect(v.most_frequent_language).toBe("fr");
  });

  it("a tie goes to the language used most recently", async () => {
    const v = await analyzed(visitor("Where is my parcel, it has not arrived yet?", "Où est mon colis, il n'est pas encore arrivé ?"));
    expect(v.most_frequent_language).toBe("fr");
  });

  it("skips messages too short to tell, and never counts them", async () => {
    const v = await analyzed(visitor("ok", "Merci", "Hello", "Gracias", "Can you tell me about your shipping options?"));
    expect(v.languages).toEqual([null, null, null, null, "en"]);
    expect(v.language_counts).toEqual({ en: 1 });
    expect(v.most_frequent_language).toBe("en");
  });

  it("counts a message once, however often the conversation is analysed", async () => {
    const c = await t.conversation(visitor("Can you tell me about your shipping options?"));
    await analyzeConversation(ctxOf(server), c.id);
    await analyzeConversation(ctxOf(server), c.id);
    await Promise.all([analyzeConversation(ctxOf(server), c.id), analyzeConversation(ctxOf(server), c.id)]);
    expect((await view(c.id)).language_counts).toEqual({ en: 1 });
  });

  it("detectLanguage and mostFrequentLanguage", () => {
    expect(detectLanguage("What is your return policy?")).toBe("en");
    expect(detectLanguage("¿Cuál es su política de devoluciones?")).toBe("es");
    expect(detectLanguage("Danke schön")).toBeNull();
    expect(detectLanguage("12345 67890 !!!")).toBeNull();
    expect(mostFrequentLanguage([])).toBeNull();
    expect(
      mostFrequentLanguage([
        { language: "en", count: 2, lastOrd: 3 },
        { language: "de", count: 2, lastOrd: 9 },
        { language: "fr", count: 1, lastOrd: 10 },
      ]),
    ).toBe("de");
  });
});

describe("sentiment", () => {
  it("positive, negative and neutral conversations", async () => {
    const positive = await analyzed(visitor("Hi, where is my order?", "Thank you so much, that was really helpful, great service!"));
    const negative = await analyzed(visitor("My order arrived broken and the box was damaged, this is bad"));
    const neutral = await analyzed(visitor("What are your opening hours on Saturday?"));
    expect(positive.unified_analysis?.sentiment).toBe("positive");
    expect(negative.unified_analysis?.sentiment).toBe("negative");
    expect(neutral.unified_analysis?.sentiment).toBe("neutral");
  });

  it("recent messages count more; text without lexicon words is neutral in any language", () => {
    expect(conversationSentiment(["This is terrible", "Okay, thanks, great, that solved it!"])).toBe("positive");
    expect(conversationSentiment(["Great, thanks!", "Actually no, this is terrible and broken"])).toBe("negative");
    expect(conversationSentiment(["Wie lange dauert der Versand nach Berlin?", "Bitte antworten Sie schnell"])).toBe("neutral");
    expect(conversationSentiment([])).toBe("neutral");
  });
});

describe("topic and title", () => {
  it("the topic is the trained article that covers the question, and becomes the title", async () => {
    const v = await analyzed(visitor("Hello", "How long does shipping take to the UK?"));
    expect(v.unified_analysis?.topic).toBe("Shipping");
    expect(v.title).toBe("Shipping");
  });

  it("no matching article: no topic, the first real message as the title, cut at a word boundary", async () => {
    const long = "Hi, I bought a blue ceramic teapot last month from your Lisbon store and the lid does not fit at all";
    const v = await analyzed(visitor("hi", long));
    expect(v.unified_analysis?.topic).toBeNull();
    expect(v.title).toBe("Hi, I bought a blue ceramic teapot last month from your…");
    expect(v.title.length).toBeLessThanOrEqual(61);
  });

  it("a topic found later replaces the message title; a topic stays while later messages name none", async () => {
    const c = await t.conversation(visitor("I have a question about my order from last week"));
    await analyzeConversation(ctxOf(server), c.id);
    expect((await view(c.id)).title).toBe("I have a question about my order from last week");
    const lane = server.app.runtime.sql;
    await lane.transaction(async (tx) => {
      await appendEvent(tx, c.id, { author: "visitor", content: "What is your return policy?" }, new Date());
    });
    await analyzeConversation(ctxOf(server), c.id);
    expect((await view(c.id)).title).toBe("Return policy");
    await lane.transaction(async (tx) => {
      await appendEvent(tx, c.id, { author: "visitor", content: "ok" }, new Date());
    });
    await analyzeConversation(ctxOf(server), c.id);
    const v = await view(c.id);
    expect(v.unified_analysis?.topic).toBe("Return policy");
    expect(v.title).toBe("Return policy");
  });

  it("keeps a title someone gave the conversation", async () => {
    const v = await analyzed(visitor("What is your return policy?"), { title: "VIP: call back" });
    expect(v.unified_analysis?.topic).toBe("Return policy");
    expect(v.title).toBe("VIP: call back");
  });

  it("titleFrom", () => {
    expect(titleFrom("  Short   question? ")).toBe("Short question?");
    expect(titleFrom("a".repeat(80))).toBe(`${"a".repeat(60)}…`);
  });
});

describe("resolution", () => {
  it("resolved when the visitor closes with thanks after an answer", async () => {
    const v = await chat(["What is your return policy?", "Thanks, that's perfect!"]);
    expect(v.unified_analysis?.resolution_status).toBe("resolved");
    // The analysis' view; the conversation's own resolution_status is the operators' to change.
    expect(v.resolution_status).toBe("open");
  });

  it("open when the only reply said it doesn't know, or the visitor asks more", async () => {
    expect((await chat(["Do you sell quantum bicycles?", "Thanks anyway"])).unified_analysis?.resolution_status).toBe("open");
    expect((await chat(["What is your return policy?", "Thanks, and how long does shipping take?"])).unified_analysis?.resolution_status).toBe("open");
  });

  it("isClosing", () => {
    expect(["Thanks!", "thank you very much", "Merci beaucoup", "Perfect, bye", "Danke, das war's"].map(isClosing)).toEqual([true, true, true, true, true]);
    expect(["Thanks, but why?", "Thanks for nothing, this is useless", "What about refunds"].map(isClosing)).toEqual([false, false, false]);
  });
});

describe("flagging", () => {
  it("flags a conversation the assistant could not answer twice in a row", async () => {
    const once = await chat(["Do you sell quantum bicycles?"]);
    expect(once.unified_analysis).toMatchObject({ is_flagged: false, flag_reason: null });
    const twice = await chat(["Do you sell quantum bicycles?", "Do you repair flying carpets?"]);
    expect(twice.unified_analysis).toMatchObject({ is_flagged: true, flag_reason: FLAG_REASONS.unanswered });
  });

  it("flags a very unhappy visitor, and abusive language", async () => {
    const unhappy = await analyzed(visitor("This is the worst service ever, I'm furious and disgusted"));
    expect(unhappy.unified_analysis).toMatchObject({ sentiment: "negative", is_flagged: true, flag_reason: FLAG_REASONS.unhappy });
    const abusive = await analyzed(visitor("Where is my order, you idiots?"));
    expect(abusive.unified_analysis).toMatchObject({ is_flagged: true, flag_reason: FLAG_REASONS.abusive });
    const mild = await analyzed(visitor("My parcel is a bit late, is that a problem?"));
    expect(mild.unified_analysis).toMatchObject({ is_flagged: false, flag_reason: null });
  });

  it("unansweredRun counts assistant replies only, across visitor messages", () => {
    const m = (author: Author, answered: boolean | null): AnalysisMessage => ({ ord: 0, author, content: "x", isWelcome: false, answered });
    expect(unansweredRun([m("visitor", null), m("ai_assistant", false), m("visitor", null), m("ai_assistant", false)])).toBe(2);
    expect(unansweredRun([m("ai_assistant", false), m("human_operator", null), m("ai_assistant", false)])).toBe(1);
    expect(unansweredRun([m("ai_assistant", false), m("ai_assistant", true), m("ai_assistant", false)])).toBe(1);
  });
});

describe("inbox updates", () => {
  it("publishes an analysis update when something changed, and nothing when nothing did", async () => {
    const c = await t.conversation(visitor("How long does shipping take to the UK?"));
    const publish = vi.spyOn(server.app.runtime.events, "publishInbox");
    await analyzeConversation(ctxOf(server), c.id);
    expect(publish).toHaveBeenCalledTimes(1);
    expect(publish).toHaveBeenCalledWith(
      t.scenarioId,
      expect.objectContaining({
        reason: "analysis",
        conversation: expect.objectContaining({ id: c.id, title: "Shipping", most_frequent_language: "en" }),
      }),
    );
    await analyzeConversation(ctxOf(server), c.id);
    expect(publish).toHaveBeenCalledTimes(1);
  });

  it("does nothing for a conversation without visitor messages", async () => {
    const c = await t.conversation([{ author: "ai_assistant", content: "Hello! How can I help you today?" }]);
    await analyzeConversation(ctxOf(server), c.id);
    expect((await view(c.id)).unified_analysis).toBeNull();
  });
});

describe("cost", () => {
  it("a constant number of SQL statements, however long the conversation", async (ctx) => {
    if (server.app.database.provider !== "sqlite") ctx.skip();
    const last = ["Can you tell me about your shipping options?", "And what is your return policy?", "Thank you, that helps a lot"];
    const filler = (n: number) => Array.from({ length: n }, (_, i) => `This is my message number ${i} about the order`);
    const statements = async (contents: string[]) => {
      const c = await t.conversation(visitor(...contents));
      // Prisma's statements are prepared each time they run; the SQL lane's are counted as they run.
      const spy = vi.spyOn(Database.prototype, "prepare");
      const lane: string[] = [];
      const stop = server.app.runtime.sql.observe((text) => lane.push(text));
      try {
        await analyzeConversation(ctxOf(server), c.id);
        // The job runner polls on its own schedule: not the analysis' work.
        return [...spy.mock.calls.map((call) => String(call[0])), ...lane].filter((q) => !/[`"]Job[`"]/.test(q));
      } finally {
        stop();
        spy.mockRestore();
      }
    };
    const short = await statements(last);
    const long = await statements([...filler(60), ...last]);
    expect(short.length).toBeGreaterThan(0);
    expect(long.length, long.join("\n")).toBe(short.length);
  });
});

describe("analysis by an LLM", () => {
  let llm: LlmStub;
  let withLlm: TestServer;
  let lt: Tenant;
  const RESULT = {
    title: "Broken kettle refund",
    topic: "Refunds",
    sentiment: "negative",
    resolution_status: "open",
    is_flagged: true,
    flag_reason: "The visitor threatens a chargeback",
  };

  beforeAll(async () => {
    llm = await startLlmStub();
    withLlm = await startServer({ jobs: JOBS }, { LLM_BASE_URL: llm.url, LLM_MODEL: "test-model" });
    lt = await seed(withLlm.app).workspace("LLM analysis");
    await lt.knowledgeBase(KB);
  });
  afterAll(async () => {
    await withLlm?.stop();
    await llm?.stop();
  });

  it("asks for JSON and stores the validated result", async () => {
    llm.respond(() => ({ content: JSON.stringify(RESULT) }));
    const v = await analyzed(
      visitor("My kettle arrived broken", "What is your return policy?", "I want my money back or I'll do a chargeback"),
      {},
      withLlm,
      lt,
    );
    const req = llm.analysisRequests().at(-1)!;
    expect(req.body).toMatchObject({ model: "test-model", temperature: 0, response_format: { type: "json_object" }, stream: false });
    const user = req.body.messages.at(-1)!.content;
    expect(user).toContain("Visitor: My kettle arrived broken");
    expect(user).toContain("Best-matching knowledge base article: Return policy");
    expect(user).toContain("Conversation language: English");
    expect(v.unified_analysis).toEqual({
      sentiment: "negative",
      resolution_status: "open",
      topic: "Refunds",
      is_flagged: true,
      flag_reason: "The visitor threatens a chargeback",
    });
    expect(v.title).toBe("Broken kettle refund");
    expect(v.most_frequent_language).toBe("en");
  });

  it.each([
    { name: "not JSON", reply: { content: "Sure! The sentiment is negative." } },
    { name: "JSON of the wrong shape", reply: { content: JSON.stringify({ ...RESULT, sentiment: "furious" }) } },
    { name: "an HTTP error", reply: { status: 503, body: "overloaded" } },
  ])("falls back to the rules on $name, with a warning", async ({ reply }) => {
    llm.respond(() => reply);
    const warn = vi.spyOn(withLlm.app.runtime.log, "warn");
    const v = await analyzed(visitor("How long does shipping take to the UK?"), {}, withLlm, lt);
    expect(v.unified_analysis).toEqual({ sentiment: "neutral", resolution_status: "open", topic: "Shipping", is_flagged: false, flag_reason: null });
    expect(v.title).toBe("Shipping");
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ err: expect.any(Error) }), expect.stringContaining("rule-based"));
  });

  it("flags the objective signal (could not answer twice) even when the model doesn't", async () => {
    llm.respond((req) =>
      req.body.response_format
        ? { content: JSON.stringify({ ...RESULT, is_flagged: false, flag_reason: null, sentiment: "neutral" }) }
        : { content: "[NO_ANSWER]" },
    );
    const v = await chat(["Do you sell quantum bicycles?", "Do you repair flying carpets?"], withLlm, lt);
    expect(v.unified_analysis).toMatchObject({ is_flagged: true, flag_reason: FLAG_REASONS.unanswered });
    const transcript = llm.analysisRequests().at(-1)!.body.messages.at(-1)!.content;
    expect(transcript).toContain("Assistant (could not answer):");
  });
});
