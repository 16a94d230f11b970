import { rowsOf, sql } from "../../src/db/sql.ts";
import { SYSTEM, DEVELOPER_SCOPES, type DeveloperScope, type TokenScope } from "../../src/auth/scopes.ts";
import type { App } from "../../src/app.ts";
import { createServiceContext } from "../../src/services/context.ts";
import { createKey, createScenarioToken } from "../../src/services/credentials.ts";
import { createScenario, createTeamMember } from "../../src/services/workspaces.ts";
import { createArticle } from "../../src/services/articles.ts";
import { publishArticle } from "../../src/services/article-versions.ts";
import { retrainKnowledgeBase } from "../../src/services/knowledge-base.ts";
import { appendEvent, insertConversation, type NewConversation } from "../../src/services/conversation-log.ts";

/**
 * Builds a tenant for one test through the same services the CLI uses:
 *   const t = await seed(app).workspace("Acme");  t.scenarioId, await t.token("write_all"), …
 */
export function seed(app: App) {
  const ctx = () => createServiceContext(app.runtime, SYSTEM);
  return {
    async workspace(name = "Test workspace") {
      const ws = await app.runtime.db.workspace.create({ data: { name } });
      const scenario = await createScenario(ctx(), { workspaceId: ws.id, name: `${name} assistant` });
      return tenant(ws.id, scenario.id);
    },
  };

  function tenant(workspaceId: string, scenarioId: string) {
    return {
      workspaceId,
      scenarioId,
      async token(scope: TokenScope, expiresInDays?: number) {
        return createScenarioToken(ctx(), { scenarioId, scope, expiresInDays });
      },
      async developerKey(scopes: readonly DeveloperScope[] = DEVELOPER_SCOPES, memberId?: string) {
        return createKey(ctx(), { kind: "developer", workspaceId, scopes: [...scopes], memberId });
      },
      async widgetKey() {
        return createKey(ctx(), { kind: "widget", scenarioId });
      },
      async legacyKey() {
        return createKey(ctx(), { kind: "legacy", scenarioId });
      },
      async member(name = "Operator", kind: "human" | "external_agent" = "human") {
        return createTeamMember(ctx(), { workspaceId, name, kind });
      },
      async scenario(name = "Second assistant") {
        const s = await createScenario(ctx(), { workspaceId, name });
        return tenant(workspaceId, s.id);
      },
      /**
       * Published articles, trained into the answer index (through the article and retrain
       * services; waits for the retrain job). Answers the article ids in order.
       */
      async knowledgeBase(articles: { title: string; content: string; tags?: string[] }[]) {
        const ids: number[] = [];
        const c = createServiceContext(app.runtime, SYSTEM);
        for (const a of articles) {
          const row = await createArticle(c, { content: a.content, title: a.title, tags: a.tags }, scenarioId);
          await publishArticle(c, row.id, scenarioId);
          ids.push(row.id);
        }
        const { job } = await retrainKnowledgeBase(c, scenarioId);
        for (let i = 0; i < 400; i++) {
          const row = await app.runtime.db.job.findUnique({ where: { id: job.id } });
          if (row?.status === "succeeded") return ids;
          if (row?.status === "failed") throw new Error(`retrain failed: ${row.lastError}`);
          await new Promise((r) => setTimeout(r, 25));
        }
        throw new Error("retrain did not finish in 10 s");
      },
      /**
       * A conversation with messages, written through the conversation log (numbers, summaries)
       * without the chat flow: no replies, no jobs, no analysis.
       */
      async conversation(
        messages: { author: "visitor" | "ai_assistant" | "human_operator"; content: string }[] = [],
        fields: Partial<NewConversation> & { at?: Date } = {},
      ) {
        const at = fields.at ?? new Date();
        return app.runtime.sql.transaction(async (tx) => {
          let conversation = await insertConversation(tx, { source: "api", ...fields, scenarioId }, at);
          if (!fields.title) {
            const title = `Conversation ${conversation.ord}`;
            [conversation] = await rowsOf<typeof conversation>(tx, "Conversation", sql`UPDATE "Conversation" SET "title" = ${title} WHERE "id" = ${conversation.id} RETURNING *`);
          }
          const events = [];
          for (const m of messages) {
            const r = await appendEvent(tx, conversation.id, m, at);
            conversation = r.conversation;
            events.push(r.event);
          }
          return { ...conversation, events };
        });
      },
    };
  }
}
export type Tenant = Awaited<ReturnType<ReturnType<typeof seed>["workspace"]>>;
