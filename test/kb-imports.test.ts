import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { buildApp, type App } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { freshDatabase } from "./helpers/server.ts";
import { seed } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";
import { poller } from "./helpers/wait.ts";
import { graphqlWsClients } from "./helpers/ws.ts";
import { wsSubscription } from "./helpers/live.ts";

// The import framework through its public faces: a link-list import is a durable job that a
// restart doesn't lose or repeat, its progress streams over GraphQL, it can be cancelled, and
// another tenant cannot see it.

// A lease long enough that a loaded machine never lets it lapse mid-page (a lapsed lease lets the job be
// claimed again while its first run still fetches); stop() releases it, so the restart needs no wait.
const JOBS = { pollMs: 20, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 250, leaseMs: 5000, stopTimeoutMs: 100, abortGraceMs: 200 };
const IMPORT = `query($id: ID!) { knowledgeImport(id: $id) { id handle kind status total processed created updated unchanged failed skipped error
  items(first: 50) { totalCount edges { node { target status error articleId } } } } }`;
const PROGRESS = `subscription($id: ID!) { knowledgeImportProgress(id: $id) { status processed total created failed } }`;

/** A site whose pages can be held back (to stop a server mid-import) and counts every fetch. */
function startSite() {
  const hits = new Map<string, number>();
  let held: Set<string> = new Set();
  const waiting: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "/";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const answer = () => {
      if (res.destroyed) return;
      if (path.startsWith("/broken")) return res.writeHead(500).end("no");
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<html><head><title>Page ${path}</title></head><body><main><p>Text of ${path} about parcels.</p></main></body></html>`);
    };
    if ([...held].some((h) => path.startsWith(h))) waiting.push(answer);
    else answer();
  });
  return {
    hits,
    hold: (prefix: string) => held.add(prefix),
    release() {
      held = new Set();
      for (const w of waiting.splice(0)) w();
    },
    async listen() {
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let db: Awaited<ReturnType<typeof freshDatabase>>;
let app: App | undefined;
let url = "";
let wsUrl = "";
const site = startSite();
let siteUrl = "";
const { callJson, gql } = http(() => url);
const wsClient = graphqlWsClients(() => wsUrl);
const until = poller({ timeoutMs: 20_000, intervalMs: 25 });

async function boot(): Promise<App> {
  const config = {
    ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", OUTBOUND_ALLOWLIST: "127.0.0.1" }),
    port: 0,
    host: "127.0.0.1",
    dataDir: db.dataDir,
    databaseUrl: db.databaseUrl,
    jobs: JOBS,
  };
  const started = await buildApp(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }) });
  url = (await started.start()).url;
  wsUrl = `${url.replace(/^http/, "ws")}/graphql`;
  return started;
}

beforeAll(async () => {
  db = await freshDatabase();
  siteUrl = await site.listen();
  app = await boot();
});
afterAll(async () => {
  await app?.stop();
  await site.close();
  await db?.drop();
});

async function scrape(token: string, links: string[]): Promise<string> {
  const res = await callJson("/v1/api/knowledge_base/import_external/scrape-list", { method: "POST", token, body: { links } });
  expect(res.status).toBe(202);
  return (res.body as { import_id: string }).import_id;
}

describe("link-list imports as durable jobs", () => {
  it("a server stopped mid-import leaves the rest to the next one: every page imported once, none refetched", async () => {
    const t = await seed(app!).workspace("Restart");
    const token = (await t.token("write_all")).secret;
    const dev = (await t.developerKey()).secret;
    site.hold("/r/3");
    const links = [1, 2, 3, 4, 5].map((n) => `${siteUrl}/r/${n}`);
    const id = await scrape(token, links);
    await until("two pages imported", async () => (await gql(dev, IMPORT, { id })).data?.knowledgeImport?.processed === 2);
    await until("page 3 requested", async () => (site.hits.get("/r/3") ?? 0) >= 1);

    await app!.stop();
    app = undefined;
    site.release();
    app = await boot();

    const done = await until("import completed", async () => {
      const imp = (await gql(dev, IMPORT, { id })).data?.knowledgeImport;
      return imp?.status === "completed" ? imp : null;
    });
    expect(done).toMatchObject({ total: 5, processed: 5, created: 5, failed: 0 });
    expect(done.items.edges.map((e: { node: { status: string } }) => e.node.status)).toEqual(["created", "created", "created", "created", "created"]);
    // Pages settled before the stop are not fetched again; the one in flight may be.
    expect(site.hits.get("/r/1")).toBe(1);
    expect(site.hits.get("/r/2")).toBe(1);
    expect(site.hits.get("/r/4")).toBe(1);
    expect(site.hits.get("/r/5")).toBe(1);
    const list = await callJson("/v1/api/knowledge_base/articles/?types=URL&limit=50", { token });
    const urls = (list.body as { items: { url: string }[] }).items.map((a) => a.url).sort();
    expect(urls).toEqual(links.map((l) => new URL(l).toString()).sort());
  });

  it("streams progress over GraphQL until the import finishes; a failing page doesn't fail it", async () => {
    const t = await seed(app!).workspace("Progress");
    const token = (await t.token("write_all")).secret;
    const dev = (await t.developerKey()).secret;
    site.hold("/p/");
    const id = await scrape(token, [`${siteUrl}/p/1`, `${siteUrl}/broken/1`, `${siteUrl}/p/2`]);
    const sub = wsSubscription(wsClient(dev), PROGRESS, { id });
    await sub.next();
    site.release();
    await sub.done(20_000);
    expect(sub.errors).toEqual([]);
    const processed = sub.items.map((i) => i.processed);
    expect(processed).toEqual([...processed].sort((a, b) => a - b));
    expect(sub.items.at(-1)).toMatchObject({ status: "completed", processed: 3, total: 3, created: 2, failed: 1 });
    const imp = (await gql(dev, IMPORT, { id })).data.knowledgeImport;
    const broken = imp.items.edges.find((e: { node: { target: string } }) => e.node.target.includes("/broken/"))!.node;
    expect(broken.status).toBe("failed");
    expect(broken.error).toMatch(/500/);
  });

  it("an import every page of which fails ends failed with the reason", async () => {
    const t = await seed(app!).workspace("All fail");
    const dev = (await t.developerKey()).secret;
    const id = await scrape((await t.token("write_all")).secret, [`${siteUrl}/broken/a`, `${siteUrl}/broken/b`]);
    const imp = await until("import failed", async () => {
      const i = (await gql(dev, IMPORT, { id })).data?.knowledgeImport;
      return i?.status === "failed" ? i : null;
    });
    expect(imp).toMatchObject({ processed: 2, failed: 2, created: 0 });
    expect(imp.error).toMatch(/broken\/a.*500/);
  });

  it("a site-wide crawl of a site that cannot be reached fails, saying so", async () => {
    const t = await seed(app!).workspace("Unreachable");
    const dev = (await t.developerKey()).secret;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const res = await callJson("/v1/api/knowledge_base/import_external/website", {
      method: "POST",
      token: (await t.token("write_all")).secret,
      body: { url: `http://127.0.0.1:${port}/`, mode: "site_wide" },
    });
    expect(res.status).toBe(202);
    const imp = await until("import failed", async () => {
      const i = (await gql(dev, IMPORT, { id: res.body.import_id })).data?.knowledgeImport;
      return i?.status === "failed" ? i : null;
    });
    expect(imp).toMatchObject({ processed: 1, failed: 1, created: 0, skipped: 0 });
    expect(imp.error).toMatch(/cannot be reached/);
  });

  it("cancelling stops an import: pending pages are not fetched", async () => {
    const t = await seed(app!).workspace("Cancel");
    const dev = (await t.developerKey()).secret;
    site.hold("/c/1");
    const id = await scrape((await t.token("write_all")).secret, [`${siteUrl}/c/1`, `${siteUrl}/c/2`, `${siteUrl}/c/3`]);
    await until("page 1 requested", async () => (site.hits.get("/c/1") ?? 0) >= 1);
    const cancelled = await gql(dev, `mutation($id: ID!) { cancelKnowledgeImport(id: $id) { status finishedAt } }`, { id });
    expect(cancelled.data.cancelKnowledgeImport.status).toBe("cancelled");
    site.release();
    await until("page 1 settled", async () => (await gql(dev, IMPORT, { id })).data?.knowledgeImport?.processed === 1);
    const imp = (await gql(dev, IMPORT, { id })).data.knowledgeImport;
    expect(imp.status).toBe("cancelled");
    expect(site.hits.get("/c/2")).toBeUndefined();
    expect(site.hits.get("/c/3")).toBeUndefined();
  });

  it("another tenant's import is NOT_FOUND, by id and in lists; a read_all token may read its own", async () => {
    const a = await seed(app!).workspace("Owner");
    const b = await seed(app!).workspace("Stranger");
    const id = await scrape((await a.token("write_all")).secret, [`${siteUrl}/t/1`]);
    const stranger = (await b.developerKey()).secret;
    expect(errorCodes(await gql(stranger, IMPORT, { id }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(stranger, `mutation($id: ID!) { cancelKnowledgeImport(id: $id) { id } }`, { id }))).toEqual(["NOT_FOUND"]);
    const list = await gql(stranger, `query($s: ID!) { knowledgeImports(scenarioId: $s, first: 5) { totalCount } }`, { s: a.scenarioId });
    expect(errorCodes(list)).toEqual(["NOT_FOUND"]);
    const sibling = await a.scenario("Sibling");
    expect(errorCodes(await gql((await sibling.token("read_all")).secret, IMPORT, { id }))).toEqual(["NOT_FOUND"]);
    const own = await gql((await a.token("read_all")).secret, IMPORT, { id });
    expect(own.data.knowledgeImport.id).toBe(id);
    const listed = await gql((await a.token("read_all")).secret, `query($s: ID!) { knowledgeImports(scenarioId: $s, first: 5) { totalCount edges { node { id kind } } } }`, { s: a.scenarioId });
    expect(listed.data.knowledgeImports).toMatchObject({ totalCount: 1, edges: [{ node: { id, kind: "links" } }] });
  });
});
