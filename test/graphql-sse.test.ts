import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.stop());

const { gql } = http(() => server);

const EVENTS = "subscription { workspaceEvents { id type scenarioId payload } }";

interface SseMessage {
  event: string;
  data: any;
}

/** Opens a GraphQL-over-SSE subscription (distinct connections mode) and parses its messages. */
async function sse(secret: string | undefined, query = EVENTS) {
  const controller = new AbortController();
  const res = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "text/event-stream",
      ...(secret ? { authorization: `Bearer ${secret}` } : {}),
    },
    body: JSON.stringify({ query }),
    signal: controller.signal,
  });
  const messages: SseMessage[] = [];
  const listeners = new Set<() => void>();
  let ended = false;
  const pump = (async () => {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let sep: number;
        while ((sep = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          let event = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (!data.length && event === "message") continue; // keep-alive comment
          const raw = data.join("\n");
          messages.push({ event, data: raw ? JSON.parse(raw) : null });
          for (const l of listeners) l();
        }
      }
    } catch (err) {
      if ((err as Error).name !== "AbortError") throw err;
    } finally {
      ended = true;
      for (const l of listeners) l();
    }
  })();
  return {
    res,
    messages,
    get ended() {
      return ended;
    },
    /** Resolves with the first message matching `pred`. */
    next(pred: (m: SseMessage) => boolean, ms = 3000): Promise<SseMessage> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find(pred);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m);
          } else if (ended) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`stream ended without a match: ${JSON.stringify(messages)}`));
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no matching message within ${ms} ms: ${JSON.stringify(messages)}`));
        }, ms);
        listeners.add(check);
        check();
      });
    },
    async abort() {
      controller.abort();
      await pump.catch(() => undefined);
    },
  };
}

const isEvent = (pred: (e: any) => boolean) => (m: SseMessage) => m.event === "next" && !!m.data?.data?.workspaceEvents && pred(m.data.data.workspaceEvents);

describe("GraphQL subscriptions over SSE", () => {
  it("delivers credential.created for a key created through a mutation, then aborts cleanly", async () => {
    const t = await seed(server.app).workspace("SSE");
    const other = await seed(server.app).workspace("SSE other");
    const admin = (await t.developerKey()).secret;
    const stream = await sse(admin);
    expect(stream.res.status).toBe(200);
    expect(stream.res.headers.get("content-type")).toMatch(/^text\/event-stream/);

    // The subscription goes live asynchronously: fire harmless events until one arrives.
    let live = false;
    for (let i = 0; i < 30 && !live; i++) {
      const s = await t.scenario(`warm ${i}`);
      live = await stream
        .next(isEvent((e) => e.type === "scenario.created" && e.payload.scenarioId === s.scenarioId), 200)
        .then(() => true, () => false);
    }
    expect(live).toBe(true);

    await other.widgetKey(); // another workspace's event: must not arrive
    const body = await gql(admin, `mutation { createApiKey(input: { kind: developer, scopes: [LEADS_READ] }) { credential { id } } }`);
    expect(body.errors).toBeUndefined();
    const id = body.data.createApiKey.credential.id;

    const msg = await stream.next(isEvent((e) => e.type === "credential.created" && e.payload.credentialId === id));
    expect(msg.data.data.workspaceEvents).toMatchObject({ type: "credential.created", scenarioId: null, payload: { credentialId: id, kind: "developer" } });
    const ids = stream.messages.filter((m) => m.event === "next").map((m) => m.data.data.workspaceEvents.id);
    const rows = await server.app.runtime.db.domainEvent.findMany({ where: { id: { in: ids } }, select: { workspaceId: true } });
    expect(rows).toHaveLength(ids.length);
    expect(new Set(rows.map((r) => r.workspaceId))).toEqual(new Set([t.workspaceId]));
    expect(stream.ended).toBe(false);
    await stream.abort();
    expect(stream.ended).toBe(true);

    // The server is still healthy after the client went away.
    const again = await fetch(`${server.url}/healthz`);
    expect(again.status).toBe(200);
  });

  it("without a credential the stream carries a PERMISSION_DENIED error and completes", async () => {
    const stream = await sse(undefined);
    const msg = await stream.next((m) => m.event === "next");
    expect(msg.data.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
    await stream.next((m) => m.event === "complete");
    await stream.abort();
  });

  it("a bad credential is a 401 before any stream starts", async () => {
    const res = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: "Bearer cw_dev_nope" },
      body: JSON.stringify({ query: EVENTS }),
    });
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(text).toContain("PERMISSION_DENIED");
  });
});
