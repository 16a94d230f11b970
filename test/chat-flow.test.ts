import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM } from "../src/auth/scopes.ts";
import { DONT_KNOW, SMALL_TALK } from "../src/ai/kb-responder.ts";
import { answer, startConversation } from "../src/services/chat.ts";
import { createServiceContext } from "../src/services/context.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";

// The chat flow under every visitor transport: numbering, the greeting, the default responder.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
let server: TestServer;
let t: Tenant;
let articleIds: number[];

beforeAll(async () => {
  server = await startServer({ jobs: JOBS });
  t = await seed(server.app).workspace("Chat");
  articleIds = await t.knowledgeBase([
    { title: "Return policy", content: "You can return any item within 30 days of delivery.\n\nRefunds reach your card within 5 business days." },
    { title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 days." },
  ]);
});
afterAll(() => server?.stop());

const ctx = () => createServiceContext(server.app.runtime, SYSTEM);
const start = (content: string) =>
  startConversation(ctx(), { workspaceId: t.workspaceId, scenarioId: t.scenarioId, source: "api", welcome: true }, { content }, "inline");

describe("chat flow", () => {
  it("greets, stores the visitor message and answers from the trained knowledge base with its sources", async () => {
    const r = await start("What is your return policy?");
    expect(r.welcome).toMatchObject({ ord: 1, author: "ai_assistant", is_welcome: true, content: "Hello! How can I help you today?" });
    expect(r.message).toMatchObject({ ord: 2, author: "visitor", content: "What is your return policy?" });
    expect(r.reply).toMatchObject({ ord: 3, author: "ai_assistant", is_welcome: false });
    expect(r.reply!.content).toContain("return any item within 30 days");
    expect(r.reply!.sources_generated).toEqual([{ article_id: articleIds[0], title: "Return policy", url: null }]);
    expect(r.reply!.message_insights).toMatchObject({ answered: true, in_reply_to: [2], responder: "knowledge_base" });
  });

  it("says it doesn't know when nothing in the knowledge base matches well", async () => {
    const r = await start("Do you sell quantum bicycles?");
    expect(r.reply).toMatchObject({ content: DONT_KNOW, sources_generated: [] });
    expect(r.reply!.message_insights).toMatchObject({ answered: false });
  });

  it("small talk without content words gets a friendly prompt, not a don't-know", async () => {
    const r = await start("Hello!");
    expect(r.reply).toMatchObject({ content: SMALL_TALK, sources_generated: [] });
    expect(r.reply!.message_insights).toMatchObject({ answered: true });
  });

  it("answers once: a second answer for the same messages is not written", async () => {
    const r = await start("How long does shipping take?");
    expect(r.reply!.content).toContain("3 to 5 days");
    expect(await answer(ctx(), r.conversation.id)).toBeNull();
    const events = await server.app.runtime.db.conversationEvent.count({ where: { conversationId: r.conversation.id } });
    expect(events).toBe(3);
  });

  it("numbers conversations per scenario", async () => {
    const other = await seed(server.app).workspace("Other");
    const a = await startConversation(ctx(), { workspaceId: other.workspaceId, scenarioId: other.scenarioId, source: "api", welcome: false }, null, "none");
    const b = await startConversation(ctx(), { workspaceId: other.workspaceId, scenarioId: other.scenarioId, source: "api", welcome: false }, null, "none");
    expect([a.conversation.ord, b.conversation.ord]).toEqual([1, 2]);
  });

  it.skipIf(!!process.env.TEST_DATABASE_URL)("SQLite commits without waiting for fsync (WAL, synchronous=NORMAL)", async () => {
    const rows = await server.app.runtime.db.$queryRawUnsafe<{ synchronous: number | bigint }[]>("PRAGMA synchronous");
    expect(Number(rows[0]!.synchronous)).toBe(1);
    const mode = await server.app.runtime.db.$queryRawUnsafe<{ journal_mode: string }[]>("PRAGMA journal_mode");
    expect(mode[0]!.journal_mode).toBe("wal");
  });
});
