import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { client } from "./helpers/articles-client.ts";
import { WRITE_SCOPE_MESSAGE, quickchatError } from "./helpers/http.ts";

const NOW = new Date("2026-01-15T12:00:00Z");
let server: TestServer;
let a: Tenant;
let b: Tenant;
let aWrite: string;
let aRead: string;
let aCheck: string;
let aReject: string;
let bWrite: string;
const { call, create, gql } = client(() => server);

const ARTICLES = "/v1/api/knowledge_base/articles/";

beforeAll(async () => {
  server = await startServer({ clock: () => NOW });
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  aWrite = (await a.token("write_all")).secret;
  aRead = (await a.token("read_all")).secret;
  aCheck = (await a.token("read_all")).secret;
  aReject = (await a.token("write_all")).secret;
  bWrite = (await b.token("write_all")).secret;
});
afterAll(() => server?.stop());

const get = async (id: number, token = aCheck) => {
  const res = await call(`${ARTICLES}${id}`, { token });
  expect(res.status).toBe(200);
  return res.body;
};
const retrainState = async (t: Tenant) =>
  (await server.app.runtime.db.knowledgeBaseState.findUnique({ where: { scenarioId: t.scenarioId } }))?.retrainState ?? null;

describe("POST /v1/api/knowledge_base/articles/", () => {
  it("the documented example answers 201 with the documented shape", async () => {
    const res = await call(ARTICLES, {
      method: "POST",
      token: aWrite,
      body: { content: "Our return policy allows returns within 30 days.", title: "Return Policy" },
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual([
      "id", "article_id", "type", "title", "description", "content", "state", "deploy_state", "version",
      "max_available_version", "url", "tags", "created_timestamp", "last_modified_timestamp", "downloaded_timestamp",
      "last_updated_timestamp", "last_updated_from_external_source_timestamp",
    ]);
    expect(res.body).toEqual({
      id: expect.any(Number),
      article_id: expect.any(String),
      type: "Article",
      title: "Return Policy",
      description: "",
      content: "Our return policy allows returns within 30 days.",
      state: "draft",
      deploy_state: "draft",
      version: null,
      max_available_version: null,
      url: null,
      tags: [],
      created_timestamp: "2026-01-15",
      last_modified_timestamp: "2026-01-15",
      downloaded_timestamp: "2026-01-15",
      last_updated_timestamp: "2026-01-15",
      last_updated_from_external_source_timestamp: null,
    });
    expect(await get(res.body.id)).toEqual(res.body);
  });

  it("creates Paragraphs, tags, and answers without a trailing slash too", async () => {
    const res = await call("/v1/api/knowledge_base/articles", {
      method: "POST",
      token: aWrite,
      body: { content: "We ship worldwide.", type: "Paragraph", tags: ["shipping", "faq"] },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ type: "Paragraph", title: "", tags: ["shipping", "faq"] });
  });

  it("sets retrain_state to to_be_retrained", async () => {
    const t = await seed(server.app).workspace("Retrain");
    const token = (await t.token("write_all")).secret;
    expect(await retrainState(t)).toBeNull();
    await create(token, { content: "Fresh knowledge." });
    expect(await retrainState(t)).toBe("to_be_retrained");
  });

  it.each([
    [{ title: "No content" }, "content"],
    [{ content: "" }, "content"],
    [{ content: "   " }, "content"],
    [{ content: 42 }, "content"],
    [{ content: "x", type: "URL" }, "type"],
    [{ content: "x", type: "Blog" }, "type"],
    [{ content: "x", title: 5 }, "title"],
    [{ content: "x", tags: "faq" }, "tags"],
    [{ content: "x", tags: [""] }, "tags.0"],
    [{ content: "x", tags: ["a,b"] }, "tags.0"],
    [{ content: "x", colour: "red" }, ""],
  ])("rejects %j with 422 naming %s, and creates nothing", async (body, field) => {
    const before = await call(ARTICLES, { token: aCheck });
    const res = await call(ARTICLES, { method: "POST", token: aReject, body });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(quickchatError("VALIDATION_ERROR"));
    expect(res.body.errors.root[0].message.startsWith(field ? `${field}:` : "")).toBe(true);
    if (!field) expect(res.body.errors.root[0].message).toMatch(/colour/);
    expect((await call(ARTICLES, { token: aCheck })).body.count).toBe(before.body.count);
  });

  it("rejects a body that is not JSON object with 422/400", async () => {
    const res = await call(ARTICLES, { method: "POST", token: aReject, body: ["x"] });
    expect(res.status).toBe(422);
  });
});

describe("GET /v1/api/knowledge_base/articles/ (list)", () => {
  let t: Tenant;
  let w: string;
  let r: string;
  const ids: Record<string, number> = {};
  beforeAll(async () => {
    t = await seed(server.app).workspace("Lister");
    w = (await t.token("write_all")).secret;
    r = (await t.token("read_all")).secret;
    ids.returns = (await create(w, { content: "Returns are accepted within 30 days.", title: "Return Policy", tags: ["policies"] })).id;
    ids.shipping = (await create(w, { content: "We ship to 40 countries.", title: "Shipping", tags: ["faq", "logistics"] })).id;
    ids.para = (await create(w, { content: "Support answers within a day.", type: "Paragraph", tags: ["faq"] })).id;
    const db = server.app.runtime.db;
    ids.url = (
      await db.article.create({
        data: { scenarioId: t.scenarioId, type: "URL", title: "Docs home", content: "Imported docs page.", url: "https://example.com/docs", tags: [], createdAt: NOW, updatedAt: NOW, downloadedAt: NOW },
      })
    ).id;
  });

  it("the documented example answers the documented shape, items without content", async () => {
    const res = await call(`${ARTICLES}?limit=10&offset=0`, { token: r });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ offset: 0, limit: 10, count: 4 });
    expect(res.body.items.map((i: { id: number }) => i.id)).toEqual([ids.returns, ids.shipping, ids.para, ids.url]);
    for (const item of res.body.items) {
      expect(item).not.toHaveProperty("content");
      expect(Object.keys(item)).toEqual([
        "id", "article_id", "type", "title", "description", "state", "deploy_state", "version", "max_available_version", "url",
        "tags", "created_timestamp", "last_modified_timestamp", "downloaded_timestamp", "last_updated_timestamp",
        "last_updated_from_external_source_timestamp",
      ]);
    }
  });

  it("pages with limit and offset", async () => {
    const res = await call(`${ARTICLES}?limit=2&offset=1`, { token: r });
    expect(res.body.items.map((i: { id: number }) => i.id)).toEqual([ids.shipping, ids.para]);
    expect(res.body).toMatchObject({ offset: 1, limit: 2, count: 4 });
  });

  const listIds = async (qs: string) => {
    const res = await call(`${ARTICLES}?${qs}`, { token: r });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.count).toBe(res.body.items.length);
    return res.body.items.map((i: { id: number }) => i.id);
  };

  it("filters by types, tags, url, title and query", async () => {
    expect(await listIds("types=Paragraph")).toEqual([ids.para]);
    expect(await listIds("types=Article,URL")).toEqual([ids.returns, ids.shipping, ids.url]);
    expect(await listIds("tags=faq")).toEqual([ids.shipping, ids.para]);
    expect(await listIds("tags=policies,logistics")).toEqual([ids.returns, ids.shipping]);
    expect(await listIds("tags=nope")).toEqual([]);
    expect(await listIds(`url=${encodeURIComponent("https://example.com/docs")}`)).toEqual([ids.url]);
    expect(await listIds("url=https://example.com/doc")).toEqual([]);
    expect(await listIds("title=RETURN")).toEqual([ids.returns]);
    expect(await listIds("title=i")).toEqual([ids.returns, ids.shipping]);
    expect(await listIds("title=%25")).toEqual([]);
    expect(await listIds("query=ship")).toEqual([ids.shipping]);
    expect(await listIds("query=within")).toEqual([ids.returns, ids.para]);
    expect(await listIds("query=within%20days")).toEqual([ids.returns]);
    expect(await listIds("query=Returns&types=Paragraph")).toEqual([]);
    expect(await listIds("query=%22%20OR%20*")).toEqual([]);
  });

  it.each(["types=Blog", "types=Article,Nope", "limit=0", "limit=101", "limit=x", "offset=-1"])("%s → 400", async (qs) => {
    const res = await call(`${ARTICLES}?${qs}`, { token: r });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(quickchatError("BAD_REQUEST"));
  });

  it("sees only the token's scenario", async () => {
    const res = await call(`${ARTICLES}?limit=100`, { token: bWrite });
    expect(res.body.items.map((i: { id: number }) => i.id)).not.toContain(ids.returns);
  });

  it("GET /v1/api/knowledge_base/articles/paragraphs: the documented example and shape", async () => {
    const res = await call("/v1/api/knowledge_base/articles/paragraphs?limit=10", { token: r });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [{ id: ids.para, content: "Support answers within a day." }], offset: 0, count: 1 });
    const none = await call("/v1/api/knowledge_base/articles/paragraphs?query=shipping", { token: r });
    expect(none.body).toEqual({ items: [], offset: 0, count: 0 });
    const some = await call("/v1/api/knowledge_base/articles/paragraphs?query=support", { token: r });
    expect(some.body.count).toBe(1);
    expect((await call("/v1/api/knowledge_base/articles/paragraphs?limit=500", { token: r })).status).toBe(400);
  });

  it("GET /v1/api/knowledge_base/tags/: the documented example answers a sorted array", async () => {
    const res = await call("/v1/api/knowledge_base/tags/", { token: r });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(["faq", "logistics", "policies"]);
    expect((await call("/v1/api/knowledge_base/tags", { token: r })).body).toEqual(["faq", "logistics", "policies"]);
  });
});

describe("GET/PATCH /v1/api/knowledge_base/articles/{id}", () => {
  it("the documented get and update examples", async () => {
    const { id } = await create(aWrite, { content: "Our return policy allows returns within 30 days.", title: "Return Policy" });
    const got = await call(`/v1/api/knowledge_base/articles/${id}`, { token: aRead });
    expect(got.status).toBe(200);
    expect(got.body.content).toBe("Our return policy allows returns within 30 days.");

    const res = await call(`/v1/api/knowledge_base/articles/${id}`, {
      method: "PATCH",
      token: aWrite,
      body: { title: "Updated Return Policy", content: "Returns accepted within 60 days.", save_mode: "publish" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id,
      title: "Updated Return Policy",
      content: "Returns accepted within 60 days.",
      state: "published",
      deploy_state: "published",
      version: 1,
      max_available_version: 1,
    });
    expect(await get(id)).toEqual(res.body);
  });

  it("updates tags (draft by default) and keeps the rest", async () => {
    const { id } = await create(aWrite, { content: "Tag me.", title: "Tags" });
    const res = await call(`${ARTICLES}${id}`, { method: "PATCH", token: aWrite, body: { tags: ["b", "a"] } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tags: ["b", "a"], title: "Tags", content: "Tag me.", deploy_state: "draft" });
    const row = await server.app.runtime.db.article.findUniqueOrThrow({ where: { id } });
    expect(row.tagsText).toBe("b a");
  });

  it.each([
    [{ colour: "red" }, ""],
    [{ content: "" }, "content"],
    [{ content: 1 }, "content"],
    [{ title: null }, "title"],
    [{ tags: [1] }, "tags.0"],
    [{ save_mode: "later" }, "save_mode"],
  ])("PATCH %j → 422 naming %s; nothing changes", async (body, field) => {
    const { id } = await create(aWrite, { content: "Stable.", title: "Stable" });
    const before = await get(id);
    const res = await call(`${ARTICLES}${id}`, { method: "PATCH", token: aReject, body });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(quickchatError("VALIDATION_ERROR"));
    if (field) expect(res.body.errors.root[0].message.startsWith(`${field}:`)).toBe(true);
    expect(await get(id)).toEqual(before);
  });

  it("unknown, foreign or malformed ids", async () => {
    const { id } = await create(aWrite, { content: "Mine." });
    for (const token of [bWrite]) {
      expect((await call(`${ARTICLES}${id}`, { token })).status).toBe(404);
      const patch = await call(`${ARTICLES}${id}`, { method: "PATCH", token, body: { title: "Stolen" } });
      expect(patch.status).toBe(404);
      expect(patch.body).toEqual(quickchatError("NOT_FOUND"));
      const del = await call(ARTICLES, { method: "DELETE", token, body: [id] });
      expect(del.status).toBe(404);
    }
    expect(await get(id)).toMatchObject({ content: "Mine.", title: "" });
    expect((await call(`${ARTICLES}999999`, { token: aRead })).status).toBe(404);
    expect((await call(`${ARTICLES}99999999999999`, { token: aRead })).status).toBe(404);
    expect((await call(`${ARTICLES}abc`, { token: aRead })).status).toBe(400);
  });
});

describe("DELETE /v1/api/knowledge_base/articles/", () => {
  it("the documented example deletes the listed articles", async () => {
    const t = await seed(server.app).workspace("Deleter");
    const w = (await t.token("write_all")).secret;
    const one = await create(w, { content: "One." });
    const two = await create(w, { content: "Two." });
    const keep = await create(w, { content: "Keep." });
    const res = await call(ARTICLES, { method: "DELETE", token: w, body: [one.id, two.id] });
    expect(res.status).toBe(200);
    const list = await call(ARTICLES, { token: w });
    expect(list.body.items.map((i: { id: number }) => i.id)).toEqual([keep.id]);
    expect((await call(`${ARTICLES}${one.id}`, { token: w })).status).toBe(404);
    expect(await retrainState(t)).toBe("to_be_retrained");
  });

  it("any id not in the scenario → 404 and nothing is deleted", async () => {
    const mine = await create(aWrite, { content: "Mine to keep." });
    const theirs = await create(bWrite, { content: "Theirs." });
    for (const body of [[mine.id, theirs.id], [mine.id, 987654321], [mine.id, 99999999999]]) {
      const res = await call(ARTICLES, { method: "DELETE", token: aReject, body });
      expect(res.status).toBe(404);
      expect(res.body).toEqual(quickchatError("NOT_FOUND"));
    }
    expect(await get(mine.id)).toMatchObject({ content: "Mine to keep." });
    expect((await call(`${ARTICLES}${theirs.id}`, { token: bWrite })).status).toBe(200);
  });

  it.each([[{ ids: [1] }], [["1"]], [[1.5]], [[]], ["1"]])("body %j → 422", async (body) => {
    const res = await call(ARTICLES, { method: "DELETE", token: aReject, body });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(quickchatError("VALIDATION_ERROR"));
  });
});

describe("read_all tokens on write routes", () => {
  it("answer 403 with the documented message and change nothing", async () => {
    const { id } = await create(aWrite, { content: "Untouched." });
    const before = await get(id);
    const attempts: [string, string, unknown][] = [
      ["POST", ARTICLES, { content: "x" }],
      ["PATCH", `${ARTICLES}${id}`, { title: "x" }],
      ["DELETE", ARTICLES, [id]],
      ["POST", `${ARTICLES}${id}/lang_urls/en`, { url: "https://example.com/x" }],
      ["PATCH", `${ARTICLES}${id}/lang_urls/en`, { url: "https://example.com/x" }],
      ["DELETE", `${ARTICLES}${id}/lang_urls/en`, undefined],
    ];
    for (const [method, path, body] of attempts) {
      const res = await call(path, { method, token: aRead, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body).toEqual(quickchatError("PERMISSION_DENIED", WRITE_SCOPE_MESSAGE));
    }
    expect(await get(id)).toEqual(before);
  });

  it("no token → 401", async () => {
    expect((await call(ARTICLES)).status).toBe(401);
  });
});

describe("GraphQL articles", () => {
  let dev: string;
  let readOnly: string;
  let noScope: string;
  let other: Tenant;
  let otherKey: string;
  let t: Tenant;
  beforeAll(async () => {
    t = await seed(server.app).workspace("Graph");
    dev = (await t.developerKey(["assistant:read", "assistant:write"])).secret;
    readOnly = (await t.developerKey(["assistant:read"])).secret;
    noScope = (await t.developerKey(["conversations:read"])).secret;
    other = await seed(server.app).workspace("Other");
    otherKey = (await other.developerKey(["assistant:read", "assistant:write"])).secret;
  });

  const FIELDS = "id articleId type title content tags deployState state version maxAvailableVersion";

  it("creates, lists with filters and totalCount, reads, updates, deletes", async () => {
    const c1 = await gql(dev, `mutation($s: ID!) { createArticle(scenarioId: $s, input: { content: "Gift cards never expire.", title: "Gift cards", tags: ["cards"] }) { ${FIELDS} } }`, { s: t.scenarioId });
    expect(c1.errors).toBeUndefined();
    expect(c1.data.createArticle).toMatchObject({ type: "Article", title: "Gift cards", tags: ["cards"], deployState: "draft", version: null });
    const c2 = await gql(dev, `mutation($s: ID!) { createArticle(scenarioId: $s, input: { content: "Short note.", type: Paragraph }) { id } }`, { s: t.scenarioId });
    const id1 = c1.data.createArticle.id;
    const id2 = c2.data.createArticle.id;

    const list = await gql(dev, `query($s: ID!) { scenario(id: $s) {
      all: articles(first: 10) { totalCount edges { node { id title } } }
      paras: articles(types: [Paragraph]) { totalCount nodes { id } }
      tagged: articles(tags: ["cards"]) { totalCount nodes { id } }
      titled: articles(title: "GIFT") { nodes { id } }
      found: articles(query: "expire") { nodes { id } }
      paged: articles(first: 1) { totalCount pageInfo { hasNextPage } nodes { id } }
      article(id: ${id1}) { content }
      tags
    } }`, { s: t.scenarioId });
    expect(list.errors).toBeUndefined();
    const s = list.data.scenario;
    expect(s.all.totalCount).toBe(2);
    expect(s.all.edges.map((e: { node: { id: number } }) => e.node.id)).toEqual([id1, id2]);
    expect(s.paras).toEqual({ totalCount: 1, nodes: [{ id: id2 }] });
    expect(s.tagged).toEqual({ totalCount: 1, nodes: [{ id: id1 }] });
    expect(s.titled.nodes).toEqual([{ id: id1 }]);
    expect(s.found.nodes).toEqual([{ id: id1 }]);
    expect(s.paged).toEqual({ totalCount: 2, pageInfo: { hasNextPage: true }, nodes: [{ id: id1 }] });
    expect(s.article.content).toBe("Gift cards never expire.");
    expect(s.tags).toEqual(["cards"]);

    const up = await gql(dev, `mutation($s: ID!) { updateArticle(scenarioId: $s, id: ${id1}, input: { title: "Gift cards FAQ", saveMode: PUBLISH }) { title deployState version } }`, { s: t.scenarioId });
    expect(up.errors).toBeUndefined();
    expect(up.data.updateArticle).toEqual({ title: "Gift cards FAQ", deployState: "published", version: 1 });

    const del = await gql(dev, `mutation($s: ID!) { deleteArticles(scenarioId: $s, ids: [${id2}]) }`, { s: t.scenarioId });
    expect(del.data.deleteArticles).toEqual([id2]);
    const after = await gql(dev, `query($s: ID!) { scenario(id: $s) { articles { totalCount } } }`, { s: t.scenarioId });
    expect(after.data.scenario.articles.totalCount).toBe(1);
  });

  it("a bad input is a VALIDATION_ERROR and creates nothing", async () => {
    const res = await gql(dev, `mutation($s: ID!) { createArticle(scenarioId: $s, input: { content: " ", type: URL }) { id } }`, { s: t.scenarioId });
    expect(res.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
  });

  it("an explicit null is a VALIDATION_ERROR naming the field (as REST's 422), never a no-op", async () => {
    const made = await gql(dev, `mutation($s: ID!) { createArticle(scenarioId: $s, input: { content: "Null safe.", title: "Kept", tags: ["t"] }) { id } }`, { s: t.scenarioId });
    const id = made.data.createArticle.id;
    const read = async () => (await gql(dev, `query($s: ID!) { scenario(id: $s) { article(id: ${id}) { ${FIELDS} } } }`, { s: t.scenarioId })).data.scenario.article;
    const before = await read();
    for (const [input, field] of [["title: null", "title"], ["content: null", "content"], ["tags: null", "tags"], ["saveMode: null", "save_mode"]] as const) {
      const res = await gql(dev, `mutation($s: ID!) { updateArticle(scenarioId: $s, id: ${id}, input: { ${input} }) { id } }`, { s: t.scenarioId });
      expect(res.errors?.[0]?.extensions?.code, input).toBe("VALIDATION_ERROR");
      expect(res.errors?.[0]?.message.startsWith(`${field}:`), res.errors?.[0]?.message).toBe(true);
      expect(await read()).toEqual(before);
    }
    const count = async () => (await gql(dev, `query($s: ID!) { scenario(id: $s) { articles { totalCount } } }`, { s: t.scenarioId })).data.scenario.articles.totalCount;
    const n = await count();
    const create = await gql(dev, `mutation($s: ID!) { createArticle(scenarioId: $s, input: { content: "x", title: null }) { id } }`, { s: t.scenarioId });
    expect(create.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
    expect(create.errors?.[0]?.message).toMatch(/^title:/);
    expect(await count()).toBe(n);
    // Absent fields stay as they are.
    const ok = await gql(dev, `mutation($s: ID!) { updateArticle(scenarioId: $s, id: ${id}, input: { content: "Still null safe." }) { title tags content } }`, { s: t.scenarioId });
    expect(ok.data.updateArticle).toEqual({ title: "Kept", tags: ["t"], content: "Still null safe." });
  });

  it("needs assistant:write to write and assistant:read to read", async () => {
    const w = await gql(readOnly, `mutation($s: ID!) { createArticle(scenarioId: $s, input: { content: "x" }) { id } }`, { s: t.scenarioId });
    expect(w.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
    const r = await gql(readOnly, `query($s: ID!) { scenario(id: $s) { articles { totalCount } } }`, { s: t.scenarioId });
    expect(r.errors).toBeUndefined();
    const none = await gql(noScope, `query($s: ID!) { scenario(id: $s) { articles { totalCount } } }`, { s: t.scenarioId });
    expect(none.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
  });

  it("another workspace's scenario or article is NOT_FOUND", async () => {
    const mine = await gql(dev, `mutation($s: ID!) { createArticle(scenarioId: $s, input: { content: "Private." }) { id } }`, { s: t.scenarioId });
    const id = mine.data.createArticle.id;
    const read = await gql(otherKey, `query($s: ID!) { scenario(id: $s) { articles { totalCount } } }`, { s: t.scenarioId });
    expect(read.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const write = await gql(otherKey, `mutation($s: ID!) { createArticle(scenarioId: $s, input: { content: "x" }) { id } }`, { s: t.scenarioId });
    expect(write.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const foreign = await gql(otherKey, `query($s: ID!) { scenario(id: $s) { article(id: ${id}) { id } } }`, { s: other.scenarioId });
    expect(foreign.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const del = await gql(otherKey, `mutation($s: ID!) { deleteArticles(scenarioId: $s, ids: [${id}]) }`, { s: other.scenarioId });
    expect(del.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const upd = await gql(otherKey, `mutation($s: ID!) { updateArticle(scenarioId: $s, id: ${id}, input: { title: "x" }) { id } }`, { s: other.scenarioId });
    expect(upd.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });
});
