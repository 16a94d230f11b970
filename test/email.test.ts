import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { handoffHelpers, type Assistant } from "./helpers/handoff.ts";
import { http } from "./helpers/http.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { startSmtpStub, type SmtpStub } from "./helpers/smtp-stub.ts";
import { until } from "./helpers/wait.ts";

// Email notifications over SMTP (SMTP_URL, SMTP_FROM) against a local SMTP server: every email is
// an outbox row sent by a durable job, retried while the server refuses, failed with the error
// after the last try.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
const FROM = "Parley Support <parley@test.example>";
let smtp: SmtpStub;
let server: TestServer;
let t: Tenant;

beforeAll(async () => {
  smtp = await startSmtpStub();
  server = await startServer({ jobs: JOBS }, { SMTP_URL: smtp.url, SMTP_FROM: FROM });
  t = await seed(server.app).workspace("Email");
});
afterAll(async () => {
  await server?.stop();
  await smtp?.stop();
});

const h = handoffHelpers(() => server);
const { gql } = http(() => server);

/** A handoff that notifies `emails`: the visitor asks for an agent and says yes. Answers the conversation id. */
async function handOff(a: Assistant, message = "I need an agent about my parcel") {
  const v = await h.start(a.site, message);
  await h.say(a, v.visitorToken, "yes");
  expect((await h.conversation(v.conversationId)).status).toBe("human_active");
  return v.conversationId;
}

const notifying = (emails: string[]) => ({ settings: { is_active: true, keywords: ["agent"], send_email_notification: true, emails } });
const emailsOf = (conversationId: string) =>
  server.app.runtime.db.outboundEmail.findMany({ where: { conversationId }, orderBy: { to: "asc" } });
const settled = (conversationId: string) =>
  until("the email jobs", async () => {
    const rows = await emailsOf(conversationId);
    return rows.length > 0 && rows.every((r) => r.status === "sent" || r.status === "failed") ? rows : null;
  });

describe("SMTP", () => {
  it("each recipient gets the handoff email from SMTP_FROM; the outbox says sent", async () => {
    const a = await h.assistant(t, notifying(["ops@example.com", "lead@example.com"]));
    const id = await handOff(a);
    const rows = await settled(id);
    expect(rows.map((r) => [r.to, r.status, r.attempts, r.error])).toEqual([
      ["lead@example.com", "sent", 1, null],
      ["ops@example.com", "sent", 1, null],
    ]);
    expect(rows.every((r) => r.sentAt instanceof Date)).toBe(true);

    const mails = smtp.messages.filter((m) => m.text.includes(id));
    expect(mails.map((m) => m.to).sort()).toEqual([["lead@example.com"], ["ops@example.com"]]);
    const c = await h.conversation(id);
    for (const m of mails) {
      expect(m.from).toBe("parley@test.example");
      expect(m.raw).toMatch(/^From: Parley Support <parley@test\.example>/m);
      expect(m.subject).toContain(`#${c.ord}`);
      expect(m.text).toContain("I need an agent about my parcel");
      expect(m.text).toContain("the visitor asked for a person");
    }

    const res = await gql(a.reader, `{ outbox(first: 5) { nodes { to status attempts error sentAt } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.outbox.nodes).toHaveLength(2);
    expect(res.data.outbox.nodes.every((n: { status: string; sentAt: string | null }) => n.status === "sent" && n.sentAt)).toBe(true);
  });

  it("a server that refuses is tried again until it accepts", async () => {
    const a = await h.assistant(t, notifying(["retry@example.com"]));
    const refusedBefore = smtp.refused;
    smtp.refuseNext(2);
    const id = await handOff(a);
    const [row] = await settled(id);
    expect(row).toMatchObject({ status: "sent", attempts: 3, error: null });
    expect(smtp.refused - refusedBefore).toBe(2);
    expect(smtp.messages.filter((m) => m.text.includes(id))).toHaveLength(1);
  });

  it("after the last try the email is failed, with the server's error", async () => {
    const a = await h.assistant(t, notifying(["never@example.com"]));
    smtp.refuseNext(100);
    try {
      const id = await handOff(a);
      const [row] = await settled(id);
      expect(row).toMatchObject({ status: "failed", attempts: 5 });
      expect(row!.error).toContain("Mailbox temporarily unavailable");
      expect(smtp.messages.filter((m) => m.text.includes(id))).toHaveLength(0);
      const res = await gql(a.reader, `{ outbox(first: 1) { nodes { status error } } }`);
      expect(res.data.outbox.nodes[0]).toMatchObject({ status: "failed", error: expect.stringContaining("Mailbox temporarily unavailable") });
    } finally {
      smtp.refuseNext(0);
    }
  });
});

describe("no reachable SMTP server", () => {
  it("the send fails with the connection error, retried like any failure", async () => {
    const dead = await startSmtpStub();
    await dead.stop();
    const other = await startServer({ jobs: JOBS }, { SMTP_URL: dead.url });
    try {
      const o = handoffHelpers(() => other);
      const u = await seed(other.app).workspace("Dead SMTP");
      const a = await o.assistant(u, notifying(["ops@example.com"]));
      const v = await o.start(a.site, "agent please");
      await o.say(a, v.visitorToken, "yes");
      const row = await until("the failed email", async () => {
        const r = await other.app.runtime.db.outboundEmail.findFirst({ where: { conversationId: v.conversationId } });
        return r?.status === "failed" ? r : null;
      });
      expect(row.attempts).toBe(5);
      expect(row.error).toMatch(/ECONNREFUSED|connect/i);
    } finally {
      await other.stop();
    }
  });
});

describe("configuration", () => {
  it("SMTP_URL is an smtp:// or smtps:// URL; SMTP_FROM has a default; without SMTP_URL there is no SMTP", () => {
    expect(loadConfig({ SMTP_URL: "smtp://user:pw@mail.example.com:587" }).smtp).toEqual({
      url: "smtp://user:pw@mail.example.com:587",
      from: "Parley <parley@localhost>",
    });
    expect(loadConfig({ SMTP_URL: "smtps://mail.example.com", SMTP_FROM: FROM }).smtp).toEqual({ url: "smtps://mail.example.com", from: FROM });
    expect(loadConfig({}).smtp).toBeNull();
    expect(() => loadConfig({ SMTP_URL: "http://mail.example.com" })).toThrow(/SMTP_URL: SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL/);
    expect(() => loadConfig({ SMTP_URL: "mail.example.com:25" })).toThrow(/SMTP_URL/);
  });
});
