import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { SYSTEM } from "../../src/auth/scopes.ts";
import { createServiceContext } from "../../src/services/context.ts";
import { createTeamMember } from "../../src/services/workspaces.ts";
import { http } from "./http.ts";
import type { Tenant } from "./seed.ts";
import type { TestServer } from "./server.ts";
import { until } from "./wait.ts";

/**
 * The human-handoff tests' common moves: an assistant with a small knowledge base and a handoff
 * configuration (PUT /v1/api/human_handoff/configuration), a visitor on the site-key API, and
 * waiting for the reply jobs.
 *
 *   const h = handoffHelpers(() => server);
 *   const a = await h.assistant(t, { settings: { is_active: true } });
 *   const v = await h.start(a.site, "Can I pay with bitcoin?");
 */

export const SHIPPING = { title: "Shipping", content: "We ship to the EU and the UK. Standard shipping takes 3 to 5 days." };
export const RETURNS = { title: "Returns", content: "You can return any item within 30 days for a full refund." };

export interface Assistant {
  scenarioId: string;
  workspaceId: string;
  site: string;
  writer: string;
  reader: string;
  tenant: Tenant;
}

export function handoffHelpers(target: () => TestServer) {
  const { callJson } = http(target);
  const db = () => target().app.runtime.db;

  /** Replaces the handoff configuration with the sections given (PUT), expecting 200. */
  async function configure(writer: string, doc: Record<string, unknown>) {
    const res = await callJson("/v1/api/human_handoff/configuration", { method: "PUT", token: writer, body: doc });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  }

  /** A fresh scenario of the tenant's workspace, its knowledge base trained, handoff configured when `doc` is given. */
  async function assistant(t: Tenant, doc?: Record<string, unknown>, articles = [SHIPPING, RETURNS]): Promise<Assistant> {
    const s = await t.scenario(`Assistant ${randomUUID().slice(0, 8)}`);
    await s.knowledgeBase(articles);
    const writer = (await s.token("write_all")).secret;
    const reader = (await s.token("read_all")).secret;
    const site = (await s.widgetKey()).secret;
    if (doc) await configure(writer, doc);
    return { scenarioId: s.scenarioId, workspaceId: s.workspaceId, site, writer, reader, tenant: s };
  }

  /** A visitor's first message (answered inline). */
  async function start(site: string, message: string) {
    const visitorToken = `vt-${randomUUID()}`;
    const res = await callJson("/api/v1/chat/conversations", {
      method: "POST",
      token: site,
      body: { name: "Jane Doe", email: "jane@example.com", message, visitor_token: visitorToken },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { visitorToken, conversationId: res.body.conversation_token as string, autoReply: res.body.auto_reply as string };
  }

  /** A visitor's next message; the answer comes from a job (see settle). */
  async function send(site: string, visitorToken: string, message: string) {
    const res = await callJson(`/api/v1/chat/conversations/${visitorToken}/messages`, { method: "POST", token: site, body: { message } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }

  /** Waits until the scenario has no reply job left to run. */
  async function settle(scenarioId: string) {
    await until("the reply jobs", async () => (await db().job.count({ where: { kind: "chat.reply", scenarioId, status: { in: ["queued", "running"] } } })) === 0);
  }

  /** send() and wait for the assistant's turn. */
  async function say(a: Assistant, visitorToken: string, message: string) {
    await send(a.site, visitorToken, message);
    await settle(a.scenarioId);
  }

  /** The visitor's view of its messages (site-key API). */
  async function visitorMessages(site: string, visitorToken: string): Promise<{ direction: string; body: string; author: string }[]> {
    const res = await callJson(`/api/v1/chat/conversations/${visitorToken}/messages`, { token: site });
    expect(res.status).toBe(200);
    return res.body;
  }

  /** Messages as stored, in order. */
  const events = (conversationId: string) => db().conversationEvent.findMany({ where: { conversationId, type: "message" }, orderBy: { ord: "asc" } });
  const conversation = (id: string) => db().conversation.findUniqueOrThrow({ where: { id } });

  /** A team member with an email address (routing profiles notify members by email). */
  async function member(workspaceId: string, name: string, email: string) {
    return createTeamMember(createServiceContext(target().app.runtime, SYSTEM), { workspaceId, name, email });
  }

  return { configure, assistant, start, send, settle, say, visitorMessages, events, conversation, member };
}
