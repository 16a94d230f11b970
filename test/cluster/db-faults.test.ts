import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { sleep, until } from "../helpers/wait.ts";
import { startCluster, type Cluster, type ParleyProcess } from "./helpers/cluster.ts";
import { startReceiver, type Receiver } from "../helpers/webhook-receiver.ts";
import { createWebhook, storedEvents, token, visitorSends, visitorStarts, widgetKey } from "./helpers/clients.ts";
import { postgresRunning, startPostgres, stopPostgres } from "./helpers/postgres.ts";

// PostgreSQL restarted under load (npm run test:cluster): a Parley process takes a steady stream
// of requests in every dialect (Quickchat REST, GraphQL, Quincer REST, site-key chat writes) while
// PostgreSQL is stopped (pg_ctl stop -m fast, sessions terminated) and started again. Every request
// answers — with its result, or with 503 SERVICE_UNAVAILABLE in its dialect's format — never with
// a 500 or another error, never later than the client's timeout; /readyz says the database is
// down, /healthz that the process lives; when PostgreSQL is back, the same process serves again,
// its job runner included.

/** Far above the server's own bound (5 s to get a pooled connection): a request past it hangs. */
const CLIENT_TIMEOUT_MS = 15_000;
/** Requests each lane keeps in flight, and the pause before each one's next. */
const IN_FLIGHT = 2;
const PAUSE_MS = 150;
/** 503s each lane must have seen while PostgreSQL was down, and OKs after it came back. */
const SEEN_DOWN = 3;
const SEEN_AFTER = 5;

type Phase = "before" | "stopping" | "down" | "starting" | "after";
const UNAVAILABLE = "unavailable";
const OK = "ok";

interface Sample {
  lane: string;
  /** The phase when the request was sent, and when its answer came. */
  sent: Phase;
  answered: Phase;
  /** "ok", "unavailable" (503 in the dialect's format), or what else happened. */
  outcome: string;
  ms: number;
}

interface Lane {
  name: string;
  send(signal: AbortSignal): Promise<Response>;
  /** Whether a 503 body is SERVICE_UNAVAILABLE in this dialect's format. */
  isUnavailable(body: any): boolean;
}

const MESSAGE = "Service temporarily unavailable";
/** What the write lane's visitor says, each time. */
const LANE_MESSAGE = "Are you there?";

let cluster: Cluster;
let parley: ParleyProcess;
let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
  cluster = await startCluster(["A"]);
  parley = cluster.processes[0]!;
});
afterAll(async () => {
  // The other cluster tests share this PostgreSQL: never leave it stopped.
  if (!(await postgresRunning())) await startPostgres();
  await cluster?.close();
  await receiver?.close();
});

function lanes(reader: string, site: string, visitorToken: string): Lane[] {
  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
  return [
    {
      name: "quickchat",
      send: (signal) => fetch(`${parley.url}/v1/api_core/conversations?limit=5`, { headers: bearer(reader), signal }),
      isUnavailable: (b) => JSON.stringify(b) === JSON.stringify({ errors: { root: [{ message: MESSAGE, code: "SERVICE_UNAVAILABLE" }] } }),
    },
    {
      name: "graphql",
      send: (signal) =>
        fetch(`${parley.url}/graphql`, {
          method: "POST",
          headers: { ...bearer(reader), "content-type": "application/json" },
          body: JSON.stringify({ query: "{ conversations(first: 5) { totalCount edges { node { id } } } }" }),
          signal,
        }),
      isUnavailable: (b) =>
        Array.isArray(b?.errors) && b.errors.length > 0 && b.errors.every((e: any) => e.extensions?.code === "SERVICE_UNAVAILABLE" && e.message === MESSAGE),
    },
    {
      name: "quincer",
      send: (signal) => fetch(`${parley.url}/api/v1/leads?limit=5`, { headers: bearer(cluster.credentials.developerKey), signal }),
      isUnavailable: (b) => JSON.stringify(b) === JSON.stringify({ error: MESSAGE }),
    },
    {
      name: "sitechat-write",
      send: (signal) =>
        fetch(`${parley.url}/api/v1/chat/conversations/${visitorToken}/messages`, {
          method: "POST",
          headers: { ...bearer(site), "content-type": "application/json" },
          body: JSON.stringify({ message: LANE_MESSAGE }),
          signal,
        }),
      isUnavailable: (b) => JSON.stringify(b) === JSON.stringify({ error: MESSAGE }),
    },
  ];
}

describe("PostgreSQL restarted under load", () => {
  it("answers 503 SERVICE_UNAVAILABLE in every dialect while it is down, reports it on /readyz, and serves again afterwards by itself", async () => {
    const samples: Sample[] = [];
    onTestFailed(() => console.log(`${cluster.logs()}\n---- requests (lane, sent, answered, outcome: count, slowest ms) ----\n${summary(samples)}`));
    const [reader, site] = await Promise.all([token(cluster, "read_all"), widgetKey(cluster)]);
    await createWebhook(parley, cluster.credentials.developerKey, receiver.url("/faults"), ["conversation.message_received"]);
    const visitor = await visitorStarts(parley, site, "Hello before the outage");
    const pid = parley.pid;

    let phase: Phase = "before";
    let running = true;
    const loops = lanes(reader, site, visitor.visitorToken).flatMap((lane) => Array.from({ length: IN_FLIGHT }, () => lane)).map(async (lane) => {
      while (running) {
        const sent = phase;
        const t0 = Date.now();
        let outcome: string;
        try {
          const res = await lane.send(AbortSignal.timeout(CLIENT_TIMEOUT_MS));
          const text = await res.text();
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
          if (res.status >= 200 && res.status < 300) outcome = OK;
          else if (res.status === 503 && lane.isUnavailable(body)) outcome = UNAVAILABLE;
          else outcome = `${res.status} ${text.slice(0, 300)}`;
        } catch (err) {
          const e = err as Error & { cause?: { code?: string } };
          outcome = e.name === "TimeoutError" ? `no answer within ${CLIENT_TIMEOUT_MS} ms` : `no response: ${e.cause?.code ?? e.message}`;
        }
        samples.push({ lane: lane.name, sent, answered: phase, outcome, ms: Date.now() - t0 });
        await sleep(PAUSE_MS);
      }
    });
    const seen = (name: string, sent: Phase, outcome: string) =>
      samples.filter((s) => s.lane === name && s.sent === sent && s.answered === sent && s.outcome === outcome).length;
    const names = lanes("", "", "").map((l) => l.name);
    const readyz = async () => {
      const res = await fetch(`${parley.url}/readyz`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    try {
      await until("every lane to be served before the outage", async () => names.every((n) => seen(n, "before", OK) >= SEEN_AFTER), { timeoutMs: 60_000 });

      phase = "stopping";
      await stopPostgres("fast");
      phase = "down";
      await until(
        `${SEEN_DOWN} answers 503 on every lane while PostgreSQL is down`,
        async () => names.every((n) => seen(n, "down", UNAVAILABLE) >= SEEN_DOWN),
        { timeoutMs: 60_000 },
      );
      const notReady = await readyz();
      expect(notReady.status).toBe(503);
      expect(notReady.body).toMatchObject({ status: "unavailable", database: "unreachable" });
      expect((await fetch(`${parley.url}/healthz`)).status).toBe(200);

      phase = "starting";
      await startPostgres();
      await until("/readyz to answer 200 again", async () => (await readyz()).status === 200, { timeoutMs: 60_000 });
      phase = "after";
      await until(`${SEEN_AFTER} answers 2xx on every lane after the restart`, async () => names.every((n) => seen(n, "after", OK) >= SEEN_AFTER), {
        timeoutMs: 60_000,
      });
    } finally {
      running = false;
      await Promise.all(loops);
    }

    // Never an error other than 503 SERVICE_UNAVAILABLE, never a request left without an answer.
    const wrong = samples.filter((s) => s.outcome !== OK && s.outcome !== UNAVAILABLE);
    expect(wrong, JSON.stringify(wrong.slice(0, 20), null, 1)).toEqual([]);
    // Before the outage everything was served; once /readyz was 200 again, everything is.
    expect(samples.filter((s) => s.answered === "before" && s.outcome !== OK)).toEqual([]);
    expect(samples.filter((s) => s.sent === "after" && s.outcome !== OK)).toEqual([]);
    // While PostgreSQL was down (sent and answered then), nothing could be served.
    expect(samples.filter((s) => s.sent === "down" && s.answered === "down" && s.outcome !== UNAVAILABLE)).toEqual([]);

    // The same process, never restarted, is ready again.
    expect(parley.running).toBe(true);
    expect(parley.pid).toBe(pid);
    expect(await readyz()).toMatchObject({ status: 200, body: { status: "ready", database: "ok" } });

    // Its job runner went on as well: a message sent now gets the assistant's reply (a durable job),
    const after = await visitorStarts(parley, site, "Hello after the outage");
    expect(await visitorSends(parley, site, after.visitorToken, "Anyone there?")).toBe(OK);
    await until(
      "the assistant's reply after the outage",
      async () => (await storedEvents(parley, reader, after.conversationId)).some((e) => e.type === "message" && e.author === "ai_assistant"),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    // and so did the webhook loops: every message the write lane got a 2xx for is delivered (as is
    // the one just sent), including those accepted right before PostgreSQL stopped.
    const accepted = samples.filter((s) => s.lane === "sitechat-write" && s.outcome === OK).length;
    const delivered = (content: string) =>
      new Set(receiver.hooks("/faults").filter((h) => h.body?.data?.message?.content === content).map((h) => String(h.body.data.message.id))).size;
    await until("the webhooks of every accepted message", async () => delivered(LANE_MESSAGE) >= accepted && delivered("Anyone there?") === 1, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
  });
});

function summary(samples: Sample[]): string {
  const groups = new Map<string, { n: number; maxMs: number }>();
  for (const s of samples) {
    const key = `${s.lane} ${s.sent}→${s.answered} ${s.outcome}`;
    const g = groups.get(key) ?? { n: 0, maxMs: 0 };
    g.n++;
    g.maxMs = Math.max(g.maxMs, s.ms);
    groups.set(key, g);
  }
  return [...groups].map(([k, g]) => `${k}: ${g.n}, ${g.maxMs} ms`).join("\n");
}
