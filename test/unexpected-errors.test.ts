import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import pino from "pino";
import { buildApp, type App } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { freshDatabase } from "./helpers/server.ts";
import { seed } from "./helpers/seed.ts";

// Unexpected failures (here: a table that vanished) are masked for the caller and logged, as JSON
// lines, with the request id the response carries in x-request-id.
const lines: Record<string, any>[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const l of String(chunk).split("\n")) if (l.trim()) lines.push(JSON.parse(l));
    done();
  },
});

let app: App;
let url: string;
let drop: () => Promise<void>;
beforeAll(async () => {
  const db = await freshDatabase();
  drop = db.drop;
  const config = { ...loadConfig({ NODE_ENV: "test" }), port: 0, dataDir: db.dataDir, databaseUrl: db.databaseUrl };
  app = await buildApp(config, { logger: pino({ level: "error" }, sink) });
  url = (await app.start()).url;
});
afterAll(async () => {
  await app?.stop();
  await drop?.();
});

async function withSettingsTableGone<T>(fn: () => Promise<T>): Promise<T> {
  await app.runtime.db.$executeRawUnsafe(`ALTER TABLE "ChatbotSettings" RENAME TO "ChatbotSettings_gone"`);
  try {
    return await fn();
  } finally {
    await app.runtime.db.$executeRawUnsafe(`ALTER TABLE "ChatbotSettings_gone" RENAME TO "ChatbotSettings"`);
  }
}

const leaks = ["stack", "prisma", "chatbotsettings", "select", "sqlite", "relation", "no such table", ".ts:"];

describe("unexpected errors", () => {
  it("REST: 500 UNKNOWN in the Quickchat dialect, nothing internal leaked, logged with the request id", async () => {
    const t = await seed(app).workspace();
    const token = (await t.token("read_all")).secret;
    const res = await withSettingsTableGone(() =>
      fetch(`${url}/v1/api/chatbot_settings`, { headers: { authorization: `Bearer ${token}` } }),
    );
    const text = await res.text();
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ errors: { root: [{ message: "Internal server error", code: "UNKNOWN" }] } });
    for (const leak of leaks) expect(text.toLowerCase(), leak).not.toContain(leak);
    const requestId = res.headers.get("x-request-id");
    const logged = lines.find((l) => l.reqId === requestId && l.err);
    expect(logged, "an error log line with the request id").toBeDefined();
    expect(JSON.stringify(logged).toLowerCase()).toContain("chatbotsettings");
  });

  it("site-key REST: 500 {error} with nothing internal", async () => {
    const t = await seed(app).workspace();
    const key = (await t.widgetKey()).secret;
    const res = await withSettingsTableGone(() => fetch(`${url}/api/v1/chat/config`, { headers: { "x-site-key": key } }));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "Internal server error" });
  });
});
