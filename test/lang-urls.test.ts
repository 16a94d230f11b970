import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { client } from "./helpers/articles-client.ts";
import { WRITE_SCOPE_MESSAGE, quickchatError } from "./helpers/http.ts";

let server: TestServer;
let a: Tenant;
let aWrite: string;
let aRead: string;
let aReject: string;
let bWrite: string;
let articleId: number;
const { call, create, gql } = client(() => server);

beforeAll(async () => {
  server = await startServer();
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  const b = await s.workspace("Beta");
  aWrite = (await a.token("write_all")).secret;
  aRead = (await a.token("read_all")).secret;
  aReject = (await a.token("write_all")).secret;
  bWrite = (await b.token("write_all")).secret;
  articleId = (await create(aWrite, { content: "Our return policy allows returns within 30 days.", title: "Return Policy" })).id;
});
afterAll(() => server?.stop());

const path = (lang: string, id = articleId) => `/v1/api/knowledge_base/articles/${id}/lang_urls/${lang}`;

describe("/v1/api/knowledge_base/articles/{id}/lang_urls/{language}", () => {
  it("the documented examples: create, get, update, delete", async () => {
    const created = await call(path("en"), { method: "POST", token: aWrite, body: { url: "https://example.com/en/return-policy" } });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({ url: "https://example.com/en/return-policy" });

    const got = await call(path("en"), { token: aRead });
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ url: "https://example.com/en/return-policy" });

    const updated = await call(path("en"), { method: "PATCH", token: aWrite, body: { url: "http://example.com/en/returns" } });
    expect(updated.status).toBe(200);
    expect(updated.body).toEqual({ url: "http://example.com/en/returns" });
    expect((await call(path("en"), { token: aRead })).body).toEqual({ url: "http://example.com/en/returns" });

    const deleted = await call(path("en"), { method: "DELETE", token: aWrite });
    expect(deleted.status).toBe(200);
    expect((await call(path("en"), { token: aRead })).status).toBe(404);
  });

  it("POST on an existing pair → 409 and the URL stays", async () => {
    expect((await call(path("de"), { method: "POST", token: aWrite, body: { url: "https://example.com/de" } })).status).toBe(200);
    const again = await call(path("de"), { method: "POST", token: aReject, body: { url: "https://example.com/de2" } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual(quickchatError("CONFLICT"));
    expect((await call(path("de"), { token: aRead })).body).toEqual({ url: "https://example.com/de" });
    // Another language of the same article is its own pair.
    expect((await call(path("pt-BR"), { method: "POST", token: aWrite, body: { url: "https://example.com/pt" } })).status).toBe(200);
  });

  it("language codes are canonical: pt-BR and pt-br are one pair", async () => {
    const { id } = await create(aWrite, { content: "Envios para o Brasil." });
    expect((await call(path("pt-BR", id), { method: "POST", token: aWrite, body: { url: "https://example.com/pt-br" } })).status).toBe(200);
    const again = await call(path("pt-br", id), { method: "POST", token: aReject, body: { url: "https://example.com/other" } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual(quickchatError("CONFLICT", /'pt-BR'/));
    expect((await call(path("pt-br", id), { token: aRead })).body).toEqual({ url: "https://example.com/pt-br" });
    expect((await call(path("pt-BR", id), { token: aRead })).body).toEqual({ url: "https://example.com/pt-br" });
    expect((await call(path("pt-br", id), { method: "PATCH", token: aWrite, body: { url: "https://example.com/pt2" } })).status).toBe(200);
    expect((await call(path("pt-BR", id), { token: aRead })).body).toEqual({ url: "https://example.com/pt2" });
    // GraphQL stores and reports the canonical code too.
    const dev = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
    const set = await gql(dev, `mutation($s: ID!) { setArticleLanguageUrl(scenarioId: $s, articleId: ${id}, language: "zh-hant-tw", url: "https://example.com/tw") { language url } }`, { s: a.scenarioId });
    expect(set.errors).toBeUndefined();
    expect(set.data.setArticleLanguageUrl).toEqual({ language: "zh-Hant-TW", url: "https://example.com/tw" });
    const list = await gql(dev, `query($s: ID!) { scenario(id: $s) { article(id: ${id}) { langUrls { language url } } } }`, { s: a.scenarioId });
    expect(list.data.scenario.article.langUrls.map((l: { language: string }) => l.language).sort()).toEqual(["pt-BR", "zh-Hant-TW"]);
    expect((await call(path("pt-br", id), { method: "DELETE", token: aWrite })).status).toBe(200);
    expect((await call(path("pt-BR", id), { token: aRead })).status).toBe(404);
  });

  it("GET, PATCH and DELETE of a missing pair → 404", async () => {
    expect((await call(path("fr"), { token: aRead })).body).toEqual(quickchatError("NOT_FOUND"));
    expect((await call(path("fr"), { method: "PATCH", token: aWrite, body: { url: "https://example.com/fr" } })).status).toBe(404);
    expect((await call(path("fr"), { method: "DELETE", token: aWrite })).status).toBe(404);
    expect((await call(path("fr"), { token: aRead })).status).toBe(404);
  });

  it("an invalid language code → 400 naming language", async () => {
    for (const lang of ["xx", "english", "EN", "e1", "en_US"]) {
      const res = await call(path(lang), { method: "POST", token: aReject, body: { url: "https://example.com/x" } });
      expect(res.status, lang).toBe(400);
      expect(res.body).toEqual(quickchatError("BAD_REQUEST", /^language:/));
      expect((await call(path(lang), { token: aRead })).status).toBe(400);
    }
  });

  it.each([
    [{}],
    [{ url: "" }],
    [{ url: "example.com/x" }],
    [{ url: "/relative" }],
    [{ url: "ftp://example.com/x" }],
    [{ url: "javascript:alert(1)" }],
    [{ url: 42 }],
    [{ url: "https://example.com/" + "a".repeat(2100) }],
    [{ url: "https://example.com/x", extra: true }],
  ])("url body %j → 422 and nothing is stored", async (body) => {
    const post = await call(path("es"), { method: "POST", token: aReject, body });
    expect(post.status).toBe(422);
    expect(post.body).toEqual(quickchatError("VALIDATION_ERROR", "extra" in body ? /extra/ : /^url:/));
    expect((await call(path("es"), { token: aRead })).status).toBe(404);
    const patch = await call(path("de"), { method: "PATCH", token: aReject, body });
    expect(patch.status).toBe(422);
    expect((await call(path("de"), { token: aRead })).body).toEqual({ url: "https://example.com/de" });
  });

  it("another scenario's article → 404; read_all → 403", async () => {
    const foreign = await call(path("de"), { token: bWrite });
    expect(foreign.status).toBe(404);
    expect((await call(path("it"), { method: "POST", token: bWrite, body: { url: "https://example.com/it" } })).status).toBe(404);
    expect((await call(path("de"), { method: "PATCH", token: bWrite, body: { url: "https://evil.example/" } })).status).toBe(404);
    expect((await call(path("de"), { method: "DELETE", token: bWrite })).status).toBe(404);
    const ro = await call(path("it"), { method: "POST", token: aRead, body: { url: "https://example.com/it" } });
    expect(ro.status).toBe(403);
    expect(ro.body).toEqual(quickchatError("PERMISSION_DENIED", WRITE_SCOPE_MESSAGE));
    expect((await call(path("de"), { token: aRead })).body).toEqual({ url: "https://example.com/de" });
    expect((await call(path("de", 99999999), { token: aRead })).status).toBe(404);
  });

  it("GraphQL: Article.langUrls, setArticleLanguageUrl and deleteArticleLanguageUrl", async () => {
    const dev = (await a.developerKey(["assistant:read", "assistant:write"])).secret;
    const set = await gql(dev, `mutation($s: ID!) { setArticleLanguageUrl(scenarioId: $s, articleId: ${articleId}, language: "nl", url: "https://example.com/nl") { language url } }`, { s: a.scenarioId });
    expect(set.errors).toBeUndefined();
    expect(set.data.setArticleLanguageUrl).toEqual({ language: "nl", url: "https://example.com/nl" });
    const replace = await gql(dev, `mutation($s: ID!) { setArticleLanguageUrl(scenarioId: $s, articleId: ${articleId}, language: "nl", url: "https://example.com/nl2") { url } }`, { s: a.scenarioId });
    expect(replace.data.setArticleLanguageUrl.url).toBe("https://example.com/nl2");
    const list = await gql(dev, `query($s: ID!) { scenario(id: $s) { article(id: ${articleId}) { langUrls { language url } } } }`, { s: a.scenarioId });
    expect(list.data.scenario.article.langUrls).toEqual(expect.arrayContaining([{ language: "nl", url: "https://example.com/nl2" }, { language: "de", url: "https://example.com/de" }]));
    const bad = await gql(dev, `mutation($s: ID!) { setArticleLanguageUrl(scenarioId: $s, articleId: ${articleId}, language: "nl", url: "ftp://x") { url } }`, { s: a.scenarioId });
    expect(bad.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
    const badLang = await gql(dev, `mutation($s: ID!) { setArticleLanguageUrl(scenarioId: $s, articleId: ${articleId}, language: "zz", url: "https://x.example") { url } }`, { s: a.scenarioId });
    expect(badLang.errors?.[0]?.extensions?.code).toBe("BAD_REQUEST");
    const del = await gql(dev, `mutation($s: ID!) { deleteArticleLanguageUrl(scenarioId: $s, articleId: ${articleId}, language: "nl") }`, { s: a.scenarioId });
    expect(del.data.deleteArticleLanguageUrl).toBe(true);
    const again = await gql(dev, `mutation($s: ID!) { deleteArticleLanguageUrl(scenarioId: $s, articleId: ${articleId}, language: "nl") }`, { s: a.scenarioId });
    expect(again.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const readOnly = (await a.developerKey(["assistant:read"])).secret;
    const denied = await gql(readOnly, `mutation($s: ID!) { setArticleLanguageUrl(scenarioId: $s, articleId: ${articleId}, language: "nl", url: "https://example.com/nl") { url } }`, { s: a.scenarioId });
    expect(denied.errors?.[0]?.extensions?.code).toBe("PERMISSION_DENIED");
  });
});
