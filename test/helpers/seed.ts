import { SYSTEM, DEVELOPER_SCOPES, type DeveloperScope, type TokenScope } from "../../src/auth/scopes.ts";
import type { App } from "../../src/app.ts";
import { createServiceContext } from "../../src/services/context.ts";
import { createKey, createScenarioToken } from "../../src/services/credentials.ts";
import { createScenario, createTeamMember } from "../../src/services/workspaces.ts";

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
      /** A conversation with messages, written straight to the database (the chat flow comes later). */
      async conversation(messages: { author: "visitor" | "ai_assistant" | "human_operator"; content: string }[] = []) {
        const db = app.runtime.db;
        const ord = (await db.conversation.count({ where: { scenarioId } })) + 1;
        return db.conversation.create({
          data: {
            scenarioId,
            ord,
            title: `Conversation ${ord}`,
            events: { create: messages.map((m, i) => ({ ord: i + 1, author: m.author, content: m.content })) },
          },
          include: { events: true },
        });
      },
    };
  }
}
export type Tenant = Awaited<ReturnType<ReturnType<typeof seed>["workspace"]>>;
