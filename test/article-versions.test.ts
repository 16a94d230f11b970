import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { client } from "./helpers/articles-client.ts";

let server: TestServer;
let t: Tenant;
let w: string;
let r: string;
let dev: string;
const { call, create, gql } = client(() => server);
const ARTICLES = "/v1/api/knowledge_base/articles/";

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Versions");
  w = (await t.token("write_all")).secret;
  r = (await t.token("read_all")).secret;
  dev = (await t.developerKey(["assistant:read", "assistant:write"])).secret;
});
afterAll(() => server?.stop());

const patch = async (id: number, body: unknown) => {
  const res = await call(`${ARTICLES}${id}`, { method: "PATCH", token: w, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const versions = async (id: number) => {
  const res = await gql(dev, `query($s: ID!) { scenario(id: $s) { article(id: ${id}) { version maxAvailableVersion deployState title content versions { version title content tags publishedAt } } } }`, { s: t.scenarioId });
  expect(res.errors).toBeUndefined();
  return res.data.scenario.article;
};
const db = () => server.app.runtime.db;

describe("article versions", () => {
  it("publishing numbers versions sequentially; a draft never replaces the published text", async () => {
    const { id } = await create(w, { content: "Version one text.", title: "V" });
    expect((await versions(id)).versions).toEqual([]);

    const p1 = await patch(id, { save_mode: "publish" });
    expect(p1).toMatchObject({ version: 1, max_available_version: 1, deploy_state: "published", state: "published" });

    const d = await patch(id, { content: "Draft text, unpublished." });
    expect(d).toMatchObject({ version: 1, max_available_version: 1, deploy_state: "draft", state: "draft", content: "Draft text, unpublished." });
    let v = await versions(id);
    expect(v.versions).toHaveLength(1);
    expect(v.versions[0]).toMatchObject({ version: 1, content: "Version one text.", title: "V", tags: [] });

    const p2 = await patch(id, { content: "Version two text.", tags: ["x"], save_mode: "publish" });
    expect(p2).toMatchObject({ version: 2, max_available_version: 2, deploy_state: "published" });
    v = await versions(id);
    expect(v.versions.map((x: { version: number }) => x.version)).toEqual([2, 1]);
    expect(v.versions[0]).toMatchObject({ content: "Version two text.", tags: ["x"] });
    expect(v.versions[1]).toMatchObject({ content: "Version one text." });
  });

  it("restoreArticleVersion makes an old version the working copy as a new draft; publishing it makes the next number", async () => {
    const { id } = await create(w, { content: "First.", title: "One", tags: ["a"] });
    await patch(id, { save_mode: "publish" });
    await patch(id, { content: "Second.", title: "Two", tags: ["b"], save_mode: "publish" });
    const res = await gql(dev, `mutation($s: ID!) { restoreArticleVersion(scenarioId: $s, articleId: ${id}, version: 1) { title content tags deployState version maxAvailableVersion } }`, { s: t.scenarioId });
    expect(res.errors).toBeUndefined();
    expect(res.data.restoreArticleVersion).toEqual({ title: "One", content: "First.", tags: ["a"], deployState: "draft", version: 2, maxAvailableVersion: 2 });
    const row = await db().article.findUniqueOrThrow({ where: { id } });
    expect(row.tagsText).toBe("a");
    // The published versions are untouched until the draft is published.
    expect((await versions(id)).versions.map((x: { content: string }) => x.content)).toEqual(["Second.", "First."]);
    const pub = await gql(dev, `mutation($s: ID!) { publishArticle(scenarioId: $s, id: ${id}) { version maxAvailableVersion deployState } }`, { s: t.scenarioId });
    expect(pub.data.publishArticle).toEqual({ version: 3, maxAvailableVersion: 3, deployState: "published" });
    expect((await versions(id)).versions.map((x: { version: number; content: string }) => [x.version, x.content])).toEqual([[3, "First."], [2, "Second."], [1, "First."]]);

    const missing = await gql(dev, `mutation($s: ID!) { restoreArticleVersion(scenarioId: $s, articleId: ${id}, version: 9) { id } }`, { s: t.scenarioId });
    expect(missing.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const bad = await gql(dev, `mutation($s: ID!) { restoreArticleVersion(scenarioId: $s, articleId: ${id}, version: 0) { id } }`, { s: t.scenarioId });
    expect(bad.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
  });

  it("concurrent publishes get distinct sequential numbers", async () => {
    const { id } = await create(w, { content: "Raced." });
    const results = await Promise.all(Array.from({ length: 5 }, () => call(`${ARTICLES}${id}`, { method: "PATCH", token: w, body: { save_mode: "publish" } })));
    expect(results.map((x) => x.status)).toEqual([200, 200, 200, 200, 200]);
    expect(results.map((x) => x.body.version).sort()).toEqual([1, 2, 3, 4, 5]);
    expect((await versions(id)).versions.map((x: { version: number }) => x.version)).toEqual([5, 4, 3, 2, 1]);
  });

  it("every change sets retrain_state to_be_retrained (create, draft, publish, restore, delete)", async () => {
    const state = async () => (await db().knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId: t.scenarioId } })).retrainState;
    const reset = () => db().knowledgeBaseState.update({ where: { scenarioId: t.scenarioId }, data: { retrainState: "up_to_date" } });
    const { id } = await create(w, { content: "Tracked." });
    expect(await state()).toBe("to_be_retrained");
    await reset();
    await patch(id, { content: "Tracked draft." });
    expect(await state()).toBe("to_be_retrained");
    await reset();
    await patch(id, { save_mode: "publish" });
    expect(await state()).toBe("to_be_retrained");
    await reset();
    await gql(dev, `mutation($s: ID!) { restoreArticleVersion(scenarioId: $s, articleId: ${id}, version: 1) { id } }`, { s: t.scenarioId });
    expect(await state()).toBe("to_be_retrained");
    await reset();
    expect((await call(ARTICLES, { method: "DELETE", token: w, body: [id] })).status).toBe(200);
    expect(await state()).toBe("to_be_retrained");
    // A rejected change does not.
    await reset();
    expect((await call(ARTICLES, { method: "DELETE", token: w, body: [id] })).status).toBe(404);
    expect(await state()).toBe("up_to_date");
  });

  it("article events are recorded", async () => {
    const { id } = await create(w, { content: "Evented." });
    await patch(id, { save_mode: "publish" });
    const events = await db().domainEvent.findMany({ where: { scenarioId: t.scenarioId, type: { startsWith: "article." } } });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["article.created", "article.published", "article.deleted", "article.updated"]));
  });

  it("read_all cannot publish; another scenario's article is NOT_FOUND", async () => {
    const { id } = await create(w, { content: "Guarded." });
    const res = await call(`${ARTICLES}${id}`, { method: "PATCH", token: r, body: { save_mode: "publish" } });
    expect(res.status).toBe(403);
    const other = await seed(server.app).workspace("Elsewhere");
    const otherDev = (await other.developerKey(["assistant:read", "assistant:write"])).secret;
    const pub = await gql(otherDev, `mutation($s: ID!) { publishArticle(scenarioId: $s, id: ${id}) { id } }`, { s: other.scenarioId });
    expect(pub.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const restore = await gql(otherDev, `mutation($s: ID!) { restoreArticleVersion(scenarioId: $s, articleId: ${id}, version: 1) { id } }`, { s: other.scenarioId });
    expect(restore.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const readOnly = (await t.developerKey(["assistant:read"])).secret;
    const denied = await gql(readOnly, `mutation($s: ID!) { publishArticle(scenarioId: $s, id: ${id}) { id } }`, { s: t.scenarioId });
    expect(denied.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
    expect((await call(`${ARTICLES}${id}`, { token: r })).body).toMatchObject({ deploy_state: "draft", version: null });
  });
});
