import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { client } from "./helpers/articles-client.ts";
import { quickchatError } from "./helpers/http.ts";

let server: TestServer;
let t: Tenant;
let w: string;
let r: string;
const { call, create, gql } = client(() => server);
const ARTICLES = "/v1/api/knowledge_base/articles/";
const SEARCH = "/v1/api/knowledge_base/articles/search";

interface Word { start_char: number; end_char: number; text: string }
interface Snippet { article_id: number; expository_sentence: string; query_words_ids: Word[] }

beforeAll(async () => {
  server = await startServer();
  t = await seed(server.app).workspace("Search");
  w = (await t.token("write_all")).secret;
  r = (await t.token("read_all")).secret;
});
afterAll(() => server?.stop());

async function search(qs: string, token = r) {
  const res = await call(`${SEARCH}?${qs}`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const body = res.body as { article_snippets: Snippet[]; article_snapshots: { items: { id: number }[]; offset: number; count: number } };
  for (const s of body.article_snippets) {
    for (const word of s.query_words_ids) expect(s.expository_sentence.slice(word.start_char, word.end_char)).toBe(word.text);
  }
  expect(body.article_snapshots.count).toBe(body.article_snapshots.items.length);
  return { ...body, ids: body.article_snapshots.items.map((i) => i.id) };
}

/** Each test gets its own scenario so the matches are only its articles. */
async function scenario() {
  const s = await seed(server.app).workspace("Search case");
  return { tenant: s, write: (await s.token("write_all")).secret, read: (await s.token("read_all")).secret };
}

describe("GET /v1/api/knowledge_base/articles/search", () => {
  it("the documented example answers the documented shape", async () => {
    const { id } = await create(w, { content: "Our return policy allows returns within 30 days.", title: "Return Policy" });
    const res = await call(`${SEARCH}?query=return%20policy`, { token: r });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      article_snippets: [{ article_id: id, expository_sentence: "Our return policy allows returns within 30 days.", query_words_ids: expect.any(Array) }],
      article_snapshots: { items: [expect.objectContaining({ id, title: "Return Policy", type: "Article" })], offset: 0, count: 1 },
    });
    expect(res.body.article_snippets[0].query_words_ids[0]).toEqual({ start_char: 4, end_char: 10, text: "return" });
    expect(res.body.article_snippets[0].query_words_ids).toEqual([
      { start_char: 4, end_char: 10, text: "return" },
      { start_char: 11, end_char: 17, text: "policy" },
      { start_char: 25, end_char: 32, text: "returns" },
    ]);
    expect(res.body.article_snapshots.items[0]).not.toHaveProperty("content");
    // without the trailing path part variations
    expect((await call(`${SEARCH}/?query=return`, { token: r })).status).toBe(200);
  });

  it("ranks the more relevant article first", async () => {
    const s = await scenario();
    const weak = await create(s.write, { content: "Our store sells many things. A warranty may apply to some.", title: "Store" });
    const strong = await create(s.write, { content: "The warranty lasts two years. Warranty claims are free.", title: "Warranty" });
    const res = await search("query=warranty", s.read);
    expect(res.ids).toEqual([strong.id, weak.id]);
    expect(res.article_snippets[0]!.article_id).toBe(strong.id);
  });

  it("loose search matches any word by prefix; strict search needs the exact phrase", async () => {
    const s = await scenario();
    const phrase = await create(s.write, { content: "Refunds arrive within 30 days of the request." });
    const words = await create(s.write, { content: "Within a week, 30 new days are added to the calendar." });
    const prefix = await create(s.write, { content: "Refundable tickets only." });
    expect((await search("query=within%2030%20days", s.read)).ids.sort()).toEqual([phrase.id, words.id].sort());
    const strict = await search("query=within%2030%20days&strict_search=true", s.read);
    expect(strict.ids).toEqual([phrase.id]);
    expect(strict.article_snippets[0]!.query_words_ids.map((x) => x.text)).toEqual(["within", "30", "days"]);
    expect((await search("query=refund", s.read)).ids.sort()).toEqual([phrase.id, prefix.id].sort());
    expect((await search("query=refund&strict_search=true", s.read)).ids).toEqual([]);
  });

  it("is case-insensitive by default; is_case_insensitive=false keeps exact-case matches", async () => {
    const s = await scenario();
    const upper = await create(s.write, { content: "Apple pie is our best seller." });
    const lower = await create(s.write, { content: "We pick every apple by hand." });
    expect((await search("query=Apple", s.read)).ids.sort()).toEqual([upper.id, lower.id].sort());
    expect((await search("query=apple", s.read)).ids.sort()).toEqual([upper.id, lower.id].sort());
    const sensitive = await search("query=Apple&is_case_insensitive=false", s.read);
    expect(sensitive.ids).toEqual([upper.id]);
    expect(sensitive.article_snippets[0]!.query_words_ids).toEqual([{ start_char: 0, end_char: 5, text: "Apple" }]);
    expect((await search("query=apple&is_case_insensitive=false", s.read)).ids).toEqual([lower.id]);
    expect((await search("query=APPLE&is_case_insensitive=false", s.read)).ids).toEqual([]);
  });

  it("with_title_url_and_tags=false searches the content only", async () => {
    const s = await scenario();
    const titled = await create(s.write, { content: "Stripes are black and white.", title: "Zebra facts" });
    const tagged = await create(s.write, { content: "Nothing about it here.", tags: ["zebra"] });
    const inContent = await create(s.write, { content: "A zebra crossing is ahead." });
    expect((await search("query=zebra", s.read)).ids.sort()).toEqual([titled.id, tagged.id, inContent.id].sort());
    expect((await search("query=zebra&with_title_url_and_tags=false", s.read)).ids).toEqual([inContent.id]);
    const snip = (await search("query=zebra", s.read)).article_snippets.find((x) => x.article_id === titled.id)!;
    expect(snip.expository_sentence).toBe("Zebra facts");
  });

  it("the snippet is the sentence with the matched words, offsets into it", async () => {
    const s = await scenario();
    const { id } = await create(s.write, {
      content: "Welcome to the help center. Shipping is free above 50 euros! Returns are easy.\nContact us any time.",
    });
    const res = await search("query=free%20shipping", s.read);
    expect(res.article_snippets).toEqual([
      {
        article_id: id,
        expository_sentence: "Shipping is free above 50 euros!",
        query_words_ids: [
          { start_char: 0, end_char: 8, text: "Shipping" },
          { start_char: 12, end_char: 16, text: "free" },
        ],
      },
    ]);
  });

  it("limits snippets to num_of_display_articles and snapshots to num_of_data_articles", async () => {
    const s = await scenario();
    for (let i = 0; i < 4; i++) await create(s.write, { content: `Lantern model ${i} is bright.` });
    const res = await search("query=lantern&num_of_display_articles=1&num_of_data_articles=3", s.read);
    expect(res.article_snippets).toHaveLength(1);
    expect(res.ids).toHaveLength(3);
    expect(res.article_snippets[0]!.article_id).toBe(res.ids[0]);
    const all = await search("query=lantern", s.read);
    expect(all.article_snippets).toHaveLength(4);
    expect(all.ids).toHaveLength(4);
  });

  it("sees drafts, and the index follows updates and deletes", async () => {
    const s = await scenario();
    const { id } = await create(s.write, { content: "Our mango smoothie is popular.", title: "Drinks" });
    await call(`${ARTICLES}${id}`, { method: "PATCH", token: s.write, body: { save_mode: "publish" } });
    const draft = await call(`${ARTICLES}${id}`, { method: "PATCH", token: s.write, body: { content: "Our kumquat smoothie is popular.", tags: ["citrus"] } });
    expect(draft.body.deploy_state).toBe("draft");
    expect((await search("query=kumquat", s.read)).ids).toEqual([id]);
    expect((await search("query=mango", s.read)).ids).toEqual([]);
    expect((await search("query=citrus", s.read)).ids).toEqual([id]);
    expect((await call(ARTICLES, { method: "DELETE", token: s.write, body: [id] })).status).toBe(200);
    expect((await search("query=kumquat", s.read)).ids).toEqual([]);
    expect((await search("query=smoothie", s.read)).ids).toEqual([]);
  });

  it("searches only the token's scenario", async () => {
    const s = await scenario();
    const mine = await create(s.write, { content: "Platypus habitat notes." });
    await create(w, { content: "Platypus facts from another scenario." });
    expect((await search("query=platypus", s.read)).ids).toEqual([mine.id]);
  });

  it("query syntax characters are plain text, never index syntax", async () => {
    const s = await scenario();
    const { id } = await create(s.write, { content: 'He said "near" and OR, AND, NOT: (star*) {content}.' });
    for (const q of ['"', "*", "NEAR(", '" OR "', "{content}", "content:", "'", "\\", "a:*|b", "!!!"]) {
      const res = await call(`${SEARCH}?query=${encodeURIComponent(q)}`, { token: s.read });
      expect(res.status, q).toBe(200);
    }
    expect((await search(`query=${encodeURIComponent('"near" OR')}`, s.read)).ids).toEqual([id]);
    expect((await search(`query=${encodeURIComponent("star*")}&strict_search=true`, s.read)).ids).toEqual([id]);
  });

  it.each([
    "",
    "query=",
    "query=%20%20",
    "query=x&is_case_insensitive=yes",
    "query=x&with_title_url_and_tags=1",
    "query=x&strict_search=TRUE",
    "query=x&num_of_display_articles=0",
    "query=x&num_of_display_articles=101",
    "query=x&num_of_data_articles=abc",
    "query=x&num_of_data_articles=2.5",
    "query=a&query=b",
  ])("%s → 400", async (qs) => {
    const res = await call(`${SEARCH}?${qs}`, { token: r });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(quickchatError("BAD_REQUEST"));
  });

  it("names the field in a 400", async () => {
    const res = await call(SEARCH, { token: r });
    expect(res.body.errors.root[0].message).toMatch(/^query:/);
    const n = await call(`${SEARCH}?query=x&num_of_data_articles=0`, { token: r });
    expect(n.body.errors.root[0].message).toMatch(/^num_of_data_articles:/);
  });

  it("GraphQL searchArticles answers the same", async () => {
    const s = await scenario();
    const dev = (await s.tenant.developerKey(["assistant:read"])).secret;
    const { id } = await create(s.write, { content: "Gift wrapping costs 2 euros. It is optional.", title: "Gift wrap" });
    const res = await gql(dev, `query($s: ID!) { scenario(id: $s) { searchArticles(query: "gift wrapping", strictSearch: true) {
      snippets { articleId expositorySentence queryWords { startChar endChar text } } articles { id title }
    } } }`, { s: s.tenant.scenarioId });
    expect(res.errors).toBeUndefined();
    expect(res.data.scenario.searchArticles).toEqual({
      snippets: [{ articleId: id, expositorySentence: "Gift wrapping costs 2 euros.", queryWords: [{ startChar: 0, endChar: 4, text: "Gift" }, { startChar: 5, endChar: 13, text: "wrapping" }] }],
      articles: [{ id, title: "Gift wrap" }],
    });
    const bad = await gql(dev, `query($s: ID!) { scenario(id: $s) { searchArticles(query: "x", numOfDataArticles: 500) { articles { id } } } }`, { s: s.tenant.scenarioId });
    expect(bad.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
    const other = await seed(server.app).workspace("Nosy");
    const nosy = (await other.developerKey(["assistant:read"])).secret;
    const denied = await gql(nosy, `query($s: ID!) { scenario(id: $s) { searchArticles(query: "gift") { articles { id } } } }`, { s: s.tenant.scenarioId });
    expect(denied.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });
});

describe("search limits and words", () => {
  const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");

  it("a 501-character query → 400 naming query; 500 is fine", async () => {
    const long = await call(`${SEARCH}?query=${"a".repeat(501)}`, { token: r });
    expect(long.status).toBe(400);
    expect(long.body).toEqual(quickchatError("BAD_REQUEST", /^query:.*500/));
    expect((await call(`${SEARCH}?query=${"a".repeat(500)}`, { token: r })).status).toBe(200);
  });

  it("33 distinct words → 400 naming query; 32 (or repeated words) are fine", async () => {
    const many = await call(`${SEARCH}?query=${encodeURIComponent(words(33))}`, { token: r });
    expect(many.status).toBe(400);
    expect(many.body).toEqual(quickchatError("BAD_REQUEST", /^query:.*32 words/));
    expect((await call(`${SEARCH}?query=${encodeURIComponent(words(32))}`, { token: r })).status).toBe(200);
    expect((await call(`${SEARCH}?query=${encodeURIComponent(Array(40).fill("same").join(" "))}`, { token: r })).status).toBe(200);
  });

  it("GraphQL searchArticles: the same limits → VALIDATION_ERROR", async () => {
    const dev = (await t.developerKey(["assistant:read"])).secret;
    const q = `query($s: ID!, $q: String!) { scenario(id: $s) { searchArticles(query: $q) { articles { id } } } }`;
    for (const query of ["a".repeat(501), words(33)]) {
      const res = await gql(dev, q, { s: t.scenarioId, q: query });
      expect(res.errors?.[0]?.extensions?.code).toBe("VALIDATION_ERROR");
      expect(res.errors?.[0]?.message).toMatch(/^query:/);
    }
    expect((await gql(dev, q, { s: t.scenarioId, q: words(32) })).errors).toBeUndefined();
  });

  it("the article list's query filter has the same limits → 400", async () => {
    const long = await call(`${ARTICLES}?query=${"a".repeat(501)}`, { token: r });
    expect(long.status).toBe(400);
    expect(long.body).toEqual(quickchatError("BAD_REQUEST", /^query:/));
    const many = await call(`${ARTICLES}?query=${encodeURIComponent(words(33))}`, { token: r });
    expect(many.status).toBe(400);
    expect(many.body).toEqual(quickchatError("BAD_REQUEST", /^query:/));
    expect((await call(`${ARTICLES}?query=${"a".repeat(500)}`, { token: r })).status).toBe(200);
  });

  it("words keep their combining marks: a Devanagari word is found whole, not by one letter", async () => {
    const s = await scenario();
    const hindi = await create(s.write, { content: "हिन्दी भाषा भारत में बोली जाती है।", title: "भाषा" });
    const other = await create(s.write, { content: "English is spoken here.", title: "English" });
    const third = await create(s.write, { content: "Una lingua diversa.", title: "Italiano" });
    const res = await search(`query=${encodeURIComponent("हिन्दी")}`, s.read);
    expect(res.ids).toEqual([hindi.id]);
    expect(res.article_snippets[0]!.query_words_ids).toEqual([{ start_char: 0, end_char: 6, text: "हिन्दी" }]);
    expect((await search(`query=${encodeURIComponent("हिन्दी")}&strict_search=true`, s.read)).ids).toEqual([hindi.id]);
    // One letter is a prefix of Devanagari words only: it never matches everything.
    const letter = await search(`query=${encodeURIComponent("ह")}`, s.read);
    expect(letter.ids).toEqual([hindi.id]);
    expect(letter.ids).not.toContain(other.id);
    expect(letter.ids).not.toContain(third.id);
    // The list filter splits the same way.
    const list = await call(`${ARTICLES}?query=${encodeURIComponent("भाषा")}`, { token: s.read });
    expect(list.status).toBe(200);
    expect(list.body.items.map((i: { id: number }) => i.id)).toEqual([hindi.id]);
  });

  it("accents are significant: café is found by café, not by cafe (and cafe not by café)", async () => {
    const s = await scenario();
    const accented = await create(s.write, { content: "Our café opens at eight." });
    const plain = await create(s.write, { content: "The cafeteria is upstairs." });
    expect((await search(`query=${encodeURIComponent("café")}`, s.read)).ids).toEqual([accented.id]);
    expect((await search(`query=${encodeURIComponent("CAFÉ")}`, s.read)).ids).toEqual([accented.id]);
    expect((await search("query=cafe", s.read)).ids).toEqual([plain.id]);
    expect((await search(`query=${encodeURIComponent("café")}&strict_search=true`, s.read)).ids).toEqual([accented.id]);
    expect((await search("query=cafe&strict_search=true", s.read)).ids).toEqual([]);
    const snip = (await search(`query=${encodeURIComponent("café")}`, s.read)).article_snippets[0]!;
    expect(snip.query_words_ids).toEqual([{ start_char: 4, end_char: 8, text: "café" }]);
  });

  it("snippet offsets count UTF-16 code units (an emoji before the word counts 2)", async () => {
    const s = await scenario();
    const sentence = "We 🎉 love parcels and 🚚 delivery.";
    const { id } = await create(s.write, { content: `${sentence} Nothing else.` });
    const res = await search("query=parcels%20delivery", s.read);
    expect(res.article_snippets).toEqual([
      {
        article_id: id,
        expository_sentence: sentence,
        query_words_ids: [
          { start_char: 11, end_char: 18, text: "parcels" },
          { start_char: 26, end_char: 34, text: "delivery" },
        ],
      },
    ]);
    // As JavaScript strings index them (code points would give 10 and 24).
    expect(sentence.indexOf("parcels")).toBe(11);
    expect(sentence.indexOf("delivery")).toBe(26);
  });
});
