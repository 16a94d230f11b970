import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FormattedExecutionResult as ExecutionResult } from "graphql";
import type { Client } from "graphql-ws";
import WebSocket from "ws";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http } from "./helpers/http.ts";
import { graphqlWsClients } from "./helpers/ws.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.stop());

const client = graphqlWsClients(() => server.wsUrl);
const { gql } = http(() => server);

const EVENTS = "subscription { workspaceEvents { id type scenarioId payload createdAt } }";

interface Sub {
  results: ExecutionResult<any, unknown>[];
  events: any[];
  done: Promise<void>;
  error: unknown;
  stop(): void;
  /** Resolves with the first event matching `pred` (rejects after `ms`). */
  next(pred: (e: any) => boolean, ms?: number): Promise<any>;
}

function subscribe(c: Client, query = EVENTS): Sub {
  const waiters: { pred: (e: any) => boolean; resolve: (e: any) => void }[] = [];
  let finish!: () => void;
  const sub: Sub = {
    results: [],
    events: [],
    error: undefined,
    done: new Promise<void>((r) => (finish = r)),
    stop: () => undefined,
    next(pred, ms = 3000) {
      const found = sub.events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${ms} ms; got ${JSON.stringify(sub.events)}`)), ms);
        waiters.push({ pred, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
  };
  sub.stop = c.subscribe(
    { query },
    {
      next: (r) => {
        sub.results.push(r);
        const e = r.data?.workspaceEvents;
        if (!e) return;
        sub.events.push(e);
        for (const w of waiters.splice(0)) {
          if (w.pred(e)) w.resolve(e);
          else waiters.push(w);
        }
      },
      error: (err) => {
        sub.error = err;
        finish();
      },
      complete: () => finish(),
    },
  );
  return sub;
}

/** Subscriptions go live asynchronously: fire harmless events until one arrives. */
async function untilLive(sub: Sub, trigger: () => Promise<unknown>) {
  for (let i = 0; i < 30; i++) {
    const seen = sub.events.length;
    await trigger();
    const got = await sub.next((e) => sub.events.indexOf(e) >= seen, 200).catch(() => null);
    if (got) return;
  }
  throw new Error(`subscription never went live: ${JSON.stringify(sub.results)} ${String(sub.error)}`);
}

const CREATE_KEY = `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { credential { id kind } } }`;
const CREATE_TOKEN = `mutation ($input: CreateApiTokenInput!) { createApiToken(input: $input) { credential { id } } }`;

/** Opens a raw graphql-transport-ws socket and resolves with its close code and reason. */
function rawSocket(url: string, init?: Record<string, unknown> | null) {
  const ws = new WebSocket(url, "graphql-transport-ws");
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })),
  );
  const opened = new Promise<number>((resolve, reject) => {
    ws.on("open", () => {
      if (init !== null) ws.send(JSON.stringify({ type: "connection_init", payload: init ?? {} }));
      resolve(Date.now());
    });
    ws.on("error", reject);
  });
  const messages: any[] = [];
  ws.on("message", (m) => messages.push(JSON.parse(m.toString())));
  return { ws, opened, closed, messages };
}

describe("graphql-ws subscriptions", () => {
  let a: Tenant;
  let b: Tenant;
  beforeAll(async () => {
    a = await seed(server.app).workspace("WS A");
    b = await seed(server.app).workspace("WS B");
  });

  it("delivers credential.created to the workspace's subscriber, and not to another workspace's", async () => {
    const keyA = (await a.developerKey()).secret;
    const keyB = (await b.developerKey()).secret;
    const subA = subscribe(client(keyA));
    const subB = subscribe(client(keyB));
    await untilLive(subA, () => a.scenario("warm A"));
    await untilLive(subB, () => b.scenario("warm B"));

    const created = await gql(keyA, CREATE_KEY, { input: { kind: "developer", scopes: ["CONVERSATIONS_READ"] } });
    expect(created.errors).toBeUndefined();
    const id = created.data.createApiKey.credential.id;
    const event = await subA.next((e) => e.type === "credential.created" && e.payload.credentialId === id);
    expect(event).toMatchObject({ type: "credential.created", scenarioId: null, payload: { credentialId: id, kind: "developer" } });
    expect(new Date(event.createdAt).getTime()).not.toBeNaN();
    const row = await server.app.runtime.db.domainEvent.findUniqueOrThrow({ where: { id: event.id } });
    expect(row.workspaceId).toBe(a.workspaceId);

    // B's subscriber is live (it gets B's own event) but never saw A's.
    const createdB = await gql(keyB, CREATE_KEY, { input: { kind: "widget", scenarioId: b.scenarioId } });
    const idB = createdB.data.createApiKey.credential.id;
    await subB.next((e) => e.payload.credentialId === idB);
    expect(subB.events.some((e) => e.payload.credentialId === id)).toBe(false);
    const workspaceIds = await server.app.runtime.db.domainEvent.findMany({
      where: { id: { in: subB.events.map((e) => e.id) } },
      select: { workspaceId: true },
    });
    expect(new Set(workspaceIds.map((w) => w.workspaceId))).toEqual(new Set([b.workspaceId]));
    expect(subA.events.some((e) => e.payload.credentialId === idB)).toBe(false);
    expect(subA.error).toBeUndefined();
    subA.stop();
    subB.stop();
  });

  it("a scenario token subscriber only receives its own scenario's events", async () => {
    const second = await a.scenario("WS A second");
    const token = (await a.token("read_all")).secret;
    const admin = (await a.developerKey()).secret;
    const sub = subscribe(client(token));
    await untilLive(sub, () => a.token("read_all"));

    const other = await gql(admin, CREATE_TOKEN, { input: { scenarioId: second.scenarioId, scope: "read_all" } });
    const otherId = other.data.createApiToken.credential.id;
    const dev = await gql(admin, CREATE_KEY, { input: { kind: "developer", scopes: ["CONVERSATIONS_READ"] } });
    const devId = dev.data.createApiKey.credential.id;
    const own = await gql(admin, CREATE_TOKEN, { input: { scenarioId: a.scenarioId, scope: "read_all" } });
    const ownId = own.data.createApiToken.credential.id;

    const event = await sub.next((e) => e.payload.credentialId === ownId);
    expect(event).toMatchObject({ type: "credential.created", scenarioId: a.scenarioId });
    // Published before the own-scenario event, so they would have arrived by now.
    expect(sub.events.every((e) => e.scenarioId === a.scenarioId)).toBe(true);
    expect(sub.events.some((e) => e.payload.credentialId === otherId || e.payload.credentialId === devId)).toBe(false);
    sub.stop();
  });

  it("without a credential the subscription is PERMISSION_DENIED", async () => {
    const sub = subscribe(client());
    await sub.done;
    const r = sub.results[0] ?? (sub.error as any);
    const errors = Array.isArray(r) ? r : r?.errors;
    expect(errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
    expect(sub.events).toEqual([]);
  });
});

describe("graphql-ws queries and mutations", () => {
  it("answers queries over the socket", async () => {
    const t = await seed(server.app).workspace("WS query");
    const key = await t.developerKey();
    const c = client(key.secret);
    const result = await new Promise<ExecutionResult<any, unknown>>((resolve, reject) => {
      let last: ExecutionResult<any, unknown>;
      c.subscribe({ query: "{ viewer { credentialId kind workspaceId } workspace { name } }" }, {
        next: (r) => (last = r),
        error: reject,
        complete: () => resolve(last),
      });
    });
    expect(result).toEqual({
      data: { viewer: { credentialId: key.id, kind: "developer", workspaceId: t.workspaceId }, workspace: { name: "WS query" } },
    });
  });

  it("runs mutations over the socket with the same authorization", async () => {
    const t = await seed(server.app).workspace("WS mutation");
    const reader = (await t.token("read_all")).secret;
    const c = client(reader);
    const before = await server.app.runtime.db.credential.count();
    const result = await new Promise<ExecutionResult<any, unknown>>((resolve, reject) => {
      let last: ExecutionResult<any, unknown>;
      c.subscribe(
        { query: CREATE_TOKEN, variables: { input: { scenarioId: t.scenarioId, scope: "write_all" } } },
        { next: (r) => (last = r), error: reject, complete: () => resolve(last) },
      );
    });
    expect(result.errors?.map((e: any) => e.extensions?.code)).toEqual(["PERMISSION_DENIED"]);
    expect(await server.app.runtime.db.credential.count()).toBe(before);
  });

  it("a malformed or over-limit operation is answered with errors and the connection stays open", async () => {
    const t = await seed(server.app).workspace("WS limits");
    const key = await t.developerKey();
    const c = client(key.secret);
    let closes = 0;
    c.on("closed", () => closes++);
    const run = (query: string) =>
      new Promise<{ errors?: readonly any[]; data?: any }>((resolve) => {
        let last: any;
        c.subscribe({ query }, {
          next: (r) => (last = r),
          error: (err) => resolve({ errors: Array.isArray(err) ? err : [err] }),
          complete: () => resolve(last),
        });
      });
    let deep = "id";
    for (let i = 0; i < 3; i++) deep = `scenarios(first: 1) { edges { node { workspace { ${deep} } } } }`;
    const cases: [string, RegExp][] = [
      ["{ viewer", /Syntax Error/],
      [`{ ${Array.from({ length: 16 }, (_, i) => `a${i}: viewer { kind }`).join(" ")} }`, /Aliases limit of 15/],
      [`{ workspace { ${deep} } }`, /depth limit of 10/],
      ["{ viewr { kind } }", /Cannot query field/],
    ];
    for (const [query, message] of cases) {
      const r = await run(query);
      expect(r.data ?? null, query).toBeNull();
      expect(r.errors?.[0]?.message, query).toMatch(message);
      expect(JSON.stringify(r.errors)).not.toContain("Did you mean");
    }
    const ok = await run("{ viewer { kind } }");
    expect(ok).toEqual({ data: { viewer: { kind: "developer" } } });
    expect(closes).toBe(0);
  });
});

describe("graphql-ws connection handling", () => {
  it("closes with 4403 for a bad credential in connectionParams", async () => {
    for (const Authorization of ["Bearer cw_dev_invalid", "Bearer a.b.c", "Basic abc"]) {
      const s = rawSocket(server.wsUrl, { Authorization });
      const { code } = await s.closed;
      expect(code, Authorization).toBe(4403);
      expect(s.messages.some((m) => m.type === "connection_ack")).toBe(false);
    }
  });

  it("closes with 4403 for a revoked key (via graphql-ws client)", async () => {
    const t = await seed(server.app).workspace("WS revoked");
    const key = await t.developerKey();
    await server.app.runtime.db.credential.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
    const closed = new Promise<number>((resolve) => {
      client(key.secret, { lazy: false, on: { closed: (e: any) => resolve(e.code) }, onNonLazyError: () => undefined });
    });
    expect(await closed).toBe(4403);
  });

  it("acknowledges a valid credential", async () => {
    const t = await seed(server.app).workspace("WS ack");
    const key = await t.developerKey();
    const s = rawSocket(server.wsUrl, { Authorization: `Bearer ${key.secret}` });
    await s.opened;
    await expect.poll(() => s.messages.map((m) => m.type)).toEqual(["connection_ack"]);
    s.ws.close(1000);
    expect((await s.closed).code).toBe(1000);
  });

  it("closes with 4408 when connection_init does not arrive in time", async () => {
    const quick = await startServer({ wsConnectionInitTimeoutMs: 300 });
    try {
      const s = rawSocket(quick.wsUrl, null);
      const openedAt = await s.opened;
      const { code, at } = await s.closed;
      expect(code).toBe(4408);
      expect(at - openedAt).toBeGreaterThanOrEqual(250);
      expect(at - openedAt).toBeLessThan(3000);
    } finally {
      await quick.stop();
    }
  });

  it("refuses upgrades on other paths", async () => {
    const ws = new WebSocket(server.wsUrl.replace(/\/graphql$/, "/elsewhere"), "graphql-transport-ws");
    const outcome = await new Promise<string>((resolve) => {
      ws.on("open", () => resolve("open"));
      ws.on("error", () => resolve("error"));
    });
    expect(outcome).toBe("error");
  });
});
