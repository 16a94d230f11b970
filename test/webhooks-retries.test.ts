import { describe, expect, it } from "vitest";
import { SUBSCRIPTION, CREATE_LEAD, UPDATE, referenceVerifier, webhookHarness } from "./helpers/webhooks.ts";

// Webhook retries against a local receiver: each event retried under its one delivery id until a
// 2xx, Retry-After honoured, redirects not followed, 410 Gone and "failing for the whole period"
// switching the subscription off.

const h = webhookHarness();

describe("retries", () => {
  it("fails the first two attempts of each event, then sees every event exactly once more, with one delivery id per event", async () => {
    const { id: subscriptionId, secret } = await h.subscribe("/flaky", ["lead.created"]);
    const tries = new Map<string, number>();
    h.receiver.on(
      "/flaky",
      referenceVerifier(secret, (hook) => {
        const n = (tries.get(String(hook.headers["webhook-id"])) ?? 0) + 1;
        tries.set(String(hook.headers["webhook-id"]), n);
        return n <= 2 ? { status: 500, body: "try again" } : { status: 204 };
      }),
    );
    const names = ["Flaky One", "Flaky Two", "Flaky Three"];
    for (const [i, name] of names.entries()) {
      expect((await h.gql(CREATE_LEAD, { input: { name, email: `flaky${i}@example.com` } })).errors).toBeUndefined();
    }
    const done = await h.until("three deliveries to succeed", async () => {
      const list = await h.deliveries(subscriptionId, "succeeded");
      return list.length === 3 && list;
    });
    const hooks = h.receiver.hooks("/flaky");
    expect(hooks).toHaveLength(9);
    // Per delivery id: three requests with the same body, the event's id, the last one answered 2xx.
    expect(new Set(hooks.map((hook) => hook.headers["webhook-id"]))).toEqual(new Set(done.map((d) => d.id)));
    for (const d of done) {
      const mine = hooks.filter((hook) => hook.headers["webhook-id"] === d.id);
      expect(mine).toHaveLength(3);
      expect(new Set(mine.map((hook) => hook.rawBody)).size).toBe(1);
      expect(d.attempts.map((x) => [x.number, x.statusCode, x.error])).toEqual([
        [1, 500, "HTTP 500: try again"],
        [2, 500, "HTTP 500: try again"],
        [3, 204, null],
      ]);
      expect(d.attempts.every((x) => typeof x.latencyMs === "number")).toBe(true);
      expect(d).toMatchObject({ attemptCount: 3, lastStatusCode: 204, lastError: null, nextAttemptAt: null });
    }
    expect(new Set(hooks.map((hook) => hook.body.data.lead.name))).toEqual(new Set(names));
    expect(new Set(hooks.map((hook) => hook.body.id)).size).toBe(3);
    const health = (await h.gql(SUBSCRIPTION, { id: subscriptionId })).data.webhookSubscription.health;
    expect(health).toMatchObject({ state: "healthy", failingSince: null, recentAttempts: 9 });
    expect(health.recentSuccessRate).toBeCloseTo(3 / 9);
  });

  it("honours Retry-After on 429 (seconds) and 503 (an HTTP date)", async () => {
    const { id: subscriptionId } = await h.subscribe("/busy", ["lead.created"]);
    h.receiver.on("/busy", (_hook, nth) => {
      if (nth === 1) return { status: 429, headers: { "retry-after": "1" } };
      if (nth === 2) return { status: 503, headers: { "retry-after": new Date(Date.now() + 2000).toUTCString() } };
      return { status: 200 };
    });
    await h.gql(CREATE_LEAD, { input: { name: "Busy Receiver", email: "busy@example.com" } });
    const first = await h.until("the 429 to be recorded", async () => {
      const [d] = await h.deliveries(subscriptionId);
      return d?.attempts.length === 1 && d;
    });
    expect(first.attempts[0]).toMatchObject({ statusCode: 429, error: "HTTP 429" });
    expect(first.status).toBe("failed");
    expect(Date.parse(first.nextAttemptAt!) - Date.parse(first.attempts[0]!.at)).toBeGreaterThanOrEqual(1000);
    const second = await h.until("the 503 to be recorded", async () => {
      const [d] = await h.deliveries(subscriptionId);
      return d?.attempts.length === 2 && d;
    });
    // The date has whole seconds: at least one second after the attempt.
    expect(Date.parse(second.nextAttemptAt!) - Date.parse(second.attempts[1]!.at)).toBeGreaterThanOrEqual(1000);
    const done = await h.until("the delivery", async () => {
      const [d] = await h.deliveries(subscriptionId, "succeeded");
      return d;
    });
    expect(done.attempts.map((x) => x.statusCode)).toEqual([429, 503, 200]);
    expect(Date.parse(done.attempts[1]!.at) - Date.parse(done.attempts[0]!.at)).toBeGreaterThanOrEqual(1000);
  });

  it("does not follow redirects: a 3xx is a failed attempt", async () => {
    const { id: subscriptionId } = await h.subscribe("/moved", ["lead.created"]);
    h.receiver.on("/moved", () => ({ status: 307, headers: { location: h.receiver.url("/moved-here") } }));
    await h.gql(CREATE_LEAD, { input: { name: "Redirected", email: "redirected@example.com" } });
    const d = await h.until("two failed attempts", async () => {
      const [x] = await h.deliveries(subscriptionId);
      return (x?.attempts.length ?? 0) >= 2 && x;
    });
    expect(d.attempts[0]).toMatchObject({ statusCode: 307, error: `HTTP 307: redirect to ${h.receiver.url("/moved-here")} not followed` });
    expect(h.receiver.hooks("/moved-here")).toHaveLength(0);
    await h.gql(UPDATE, { id: subscriptionId, active: false });
  });

  it("410 Gone disables the subscription; nothing more is sent to it", async () => {
    const { id: subscriptionId } = await h.subscribe("/gone", ["lead.created"]);
    h.receiver.on("/gone", () => ({ status: 410 }));
    await h.gql(CREATE_LEAD, { input: { name: "Gone One", email: "gone1@example.com" } });
    const sub = await h.until("the subscription to be disabled", async () => {
      const s = (await h.gql(SUBSCRIPTION, { id: subscriptionId })).data.webhookSubscription;
      return !s.active && s;
    });
    expect(sub.health).toMatchObject({ state: "disabled", disabledReason: "gone" });
    const [d] = await h.deliveries(subscriptionId);
    expect(d).toMatchObject({ status: "dead", lastStatusCode: 410, nextAttemptAt: null, attemptCount: 1 });
    await h.gql(CREATE_LEAD, { input: { name: "Gone Two", email: "gone2@example.com" } });
    // A later event is relayed without a delivery for it (a subscription after it proves the relay passed it).
    await h.subscribe("/after-gone", ["lead.created"]);
    await h.gql(CREATE_LEAD, { input: { name: "Gone Three", email: "gone3@example.com" } });
    await h.until("the later subscription's event", async () => h.receiver.hooks("/after-gone").length >= 1);
    expect(await h.deliveries(subscriptionId)).toHaveLength(1);
    expect(h.receiver.hooks("/gone")).toHaveLength(1);
  });

  it("a subscription failing for the whole period is disabled and flagged failing", async () => {
    const { id: subscriptionId } = await h.subscribe("/down", ["lead.created"]);
    h.receiver.on("/down", () => ({ status: 500 }));
    await h.gql(CREATE_LEAD, { input: { name: "Down Receiver", email: "down@example.com" } });
    const sub = await h.until("the subscription to be disabled", async () => {
      const s = (await h.gql(SUBSCRIPTION, { id: subscriptionId })).data.webhookSubscription;
      return !s.active && s;
    });
    expect(sub.health).toMatchObject({ state: "disabled", disabledReason: "failing", recentSuccessRate: 0 });
    expect(sub.health.failingSince).toEqual(expect.any(String));
    const [d] = await h.deliveries(subscriptionId);
    expect(d!.status).toBe("dead");
    expect(d!.attempts.length).toBeGreaterThanOrEqual(2);
  });
});
