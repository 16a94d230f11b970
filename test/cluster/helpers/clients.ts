import { randomUUID } from "node:crypto";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { http } from "../../helpers/http.ts";
import type { Cluster, ParleyProcess } from "./cluster.ts";

// What the cluster tests do to Parley from outside, through its public interfaces only: the
// site-key chat API, GraphQL over HTTP and graphql-ws, the admin CLI.

export const EVENT_FIELDS = "id ord type author content messageInsights";
export const MESSAGE_ADDED = `subscription ($id: ID!, $after: Int, $token: String) {
  messageAdded(conversationId: $id, afterOrd: $after, visitorToken: $token) { ${EVENT_FIELDS} }
}`;
const TAKEOVER = `mutation ($id: ID!) { takeoverConversation(conversationId: $id) { id status } }`;
const REPLY = `mutation ($id: ID!, $m: String!) { replyToConversation(conversationId: $id, message: $m) { ord content } }`;
const EVENTS = `query ($id: ID!, $after: Int) { conversation(id: $id) {
  events(afterOrd: $after, first: 100) { edges { node { ${EVENT_FIELDS} } } } } }`;
const CREATE_WEBHOOK = `mutation ($url: String!, $events: [String!]!) {
  createWebhookSubscription(url: $url, events: $events) { subscription { id } } }`;

export interface Event {
  id: string;
  ord: number;
  type: string;
  author: string;
  content: string;
  messageInsights?: Record<string, unknown> | null;
}

/** A fresh credential of the default scenario through the admin CLI (fresh rate-limit budgets). */
export async function token(cluster: Cluster, scope: "read_all" | "write_all"): Promise<string> {
  return (await cluster.cli<{ token: string }>("token", "create", "--scenario", cluster.credentials.scenarioId, "--scope", scope)).token;
}
export async function widgetKey(cluster: Cluster): Promise<string> {
  return (await cluster.cli<{ key: string }>("key", "create", "--kind", "widget", "--scenario", cluster.credentials.scenarioId)).key;
}

/** GraphQL over HTTP against one instance; throws on GraphQL errors. */
export async function gqlOk<T = any>(p: ParleyProcess, secret: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const body = await http(() => p).gql(secret, query, variables);
  if (body.errors?.length) throw new Error(`GraphQL errors from ${p.name}: ${JSON.stringify(body.errors)}`);
  return body.data as T;
}

/** A visitor starts a conversation through the site-key API of `p`. */
export async function visitorStarts(p: ParleyProcess, site: string, message = "Hello there") {
  const visitorToken = `vt-${randomUUID()}`;
  const res = await http(() => p).callJson("/api/v1/chat/conversations", {
    method: "POST",
    token: site,
    body: { name: "Jane Doe", email: "jane@example.com", message, visitor_token: visitorToken },
  });
  if (res.status !== 201) throw new Error(`starting a conversation on ${p.name}: ${res.status} ${JSON.stringify(res.body)}`);
  return { visitorToken, conversationId: res.body.conversation_token as string };
}

/** What became of a post: "ok" (2xx, stored), else the status and error, or the transport's error. */
export type Outcome = "ok" | string;
const failed = (err: unknown): Outcome => {
  const e = err as Error & { cause?: { code?: string } };
  return `no response: ${e.cause?.code ?? e.message}`;
};

/** A visitor message through the site-key API. */
export async function visitorSends(p: ParleyProcess, site: string, visitorToken: string, message: string): Promise<Outcome> {
  try {
    const res = await http(() => p).call(`/api/v1/chat/conversations/${visitorToken}/messages`, { method: "POST", token: site, body: { message } });
    const text = await res.text();
    return res.status === 201 ? "ok" : `${res.status} ${text}`;
  } catch (err) {
    return failed(err);
  }
}

export async function takeover(p: ParleyProcess, writer: string, conversationId: string): Promise<void> {
  await gqlOk(p, writer, TAKEOVER, { id: conversationId });
}

/** An operator reply (the writer holds the takeover). */
export async function operatorReplies(p: ParleyProcess, writer: string, conversationId: string, message: string): Promise<Outcome> {
  try {
    const res = await http(() => p).graphql(REPLY, { auth: writer, variables: { id: conversationId, m: message } });
    const ok = res.status === 200 && !res.body.errors?.length && res.body.data?.replyToConversation?.content === message;
    return ok ? "ok" : `${res.status} ${res.text.slice(0, 300)}`;
  } catch (err) {
    return failed(err);
  }
}

/** Every stored event of the conversation, in ord order (read through `p`). */
export async function storedEvents(p: ParleyProcess, reader: string, conversationId: string): Promise<Event[]> {
  const all: Event[] = [];
  for (;;) {
    const data = await gqlOk(p, reader, EVENTS, { id: conversationId, after: all.at(-1)?.ord ?? 0 });
    const page = (data.conversation.events.edges as { node: Event }[]).map((e) => e.node);
    all.push(...page);
    if (page.length < 100) return all;
  }
}

export async function createWebhook(p: ParleyProcess, developerKey: string, url: string, events: string[]): Promise<string> {
  const data = await gqlOk(p, developerKey, CREATE_WEBHOOK, { url, events });
  return data.createWebhookSubscription.subscription.id as string;
}

/**
 * A messageAdded subscriber that follows the instances in `urls`: when its connection to one ends
 * (the instance stops), it subscribes on the next with afterOrd = the last ord it saw, as a client
 * behind a load balancer does. `items` is everything it received, across connections.
 */
export function followingSubscriber(urls: string[], secret: string, variables: { id: string; after: number; token?: string }) {
  const items: Event[] = [];
  const errors: unknown[] = [];
  /** Each connection's instance URL and how it ended. */
  const connections: { url: string; ended?: string }[] = [];
  const clients: Client[] = [];
  let stopped = false;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };

  const open = (index: number) => {
    const url = urls[index]!;
    const connection: { url: string; ended?: string } = { url };
    connections.push(connection);
    const client = createClient({ url, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${secret}` }, retryAttempts: 0, lazy: true });
    clients.push(client);
    const after = items.at(-1)?.ord ?? variables.after;
    const ended = (how: string) => {
      connection.ended = how;
      void client.dispose();
      if (!stopped && index + 1 < urls.length) open(index + 1);
      notify();
    };
    client.subscribe<{ messageAdded: Event }>(
      { query: MESSAGE_ADDED, variables: { ...variables, after } },
      {
        next: (r) => {
          if (r.errors?.length) errors.push(...r.errors);
          if (r.data?.messageAdded) items.push(r.data.messageAdded);
          notify();
        },
        error: (err) => {
          const e = err as { code?: number; reason?: string; message?: string };
          if (Array.isArray(err)) errors.push(...err);
          ended(e.code !== undefined ? `closed ${e.code} ${e.reason ?? ""}`.trim() : `error ${e.message ?? JSON.stringify(err)}`);
        },
        complete: () => ended("complete"),
      },
    );
  };
  open(0);

  return {
    items,
    errors,
    connections,
    /** Resolves once `pred` holds over the items; rejects after `ms` with what arrived. */
    until(what: string, pred: (items: Event[]) => boolean, ms = 60_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pred(items)) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`subscriber: no ${what} within ${ms} ms; ords ${JSON.stringify(items.map((i) => i.ord))}; connections ${JSON.stringify(connections)}; errors ${JSON.stringify(errors)}`));
        }, ms);
        listeners.add(check);
        check();
      });
    },
    async close() {
      stopped = true;
      await Promise.all(clients.map((c) => c.dispose()));
    },
  };
}
export type FollowingSubscriber = ReturnType<typeof followingSubscriber>;

export const ordsOf = (events: { ord: number }[]) => events.map((e) => e.ord);
export const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
