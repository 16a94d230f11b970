import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { canonicalVideoUrl, youtubeVideoId } from "../src/services/kb-youtube-url.ts";
import {
  captionsToParagraphs,
  chooseTrack,
  findPlayerResponse,
  jsonObjectAt,
  parseTimedText,
  playerInfo,
  type CaptionTrack,
} from "../src/services/kb-youtube-captions.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { http, quickchatError, WRITE_SCOPE_MESSAGE } from "./helpers/http.ts";
import { until } from "./helpers/wait.ts";
import { startYoutubeStub, type YoutubeStub } from "./helpers/youtube-stub.ts";

// YouTube transcripts: the video id from every URL form people paste, the watch page's player
// response, the choice of caption track, timedtext in both formats, and the import end to end
// against a local stand-in for youtube.com.

const ID = "dQw4w9WgXcQ";

describe("video id from a URL", () => {
  it.each([
    `https://www.youtube.com/watch?v=${ID}`,
    `http://www.youtube.com/watch?v=${ID}`,
    `https://youtube.com/watch?v=${ID}`,
    `https://m.youtube.com/watch?v=${ID}`,
    `https://music.youtube.com/watch?v=${ID}&list=RDAMVM${ID}`,
    `https://www.youtube.com/watch?feature=share&v=${ID}`,
    `https://www.youtube.com/watch?v=${ID}&t=42s`,
    `https://www.youtube.com/watch?app=desktop&v=${ID}&t=1m2s&list=PL123#comments`,
    `https://www.youtube.com/watch/?v=${ID}`,
    `https://youtu.be/${ID}`,
    `https://youtu.be/${ID}?si=AbCdEf123`,
    `https://youtu.be/${ID}?t=10`,
    `https://www.youtube.com/embed/${ID}`,
    `https://www.youtube.com/embed/${ID}?start=5&autoplay=1`,
    `https://www.youtube.com/v/${ID}`,
    `https://www.youtube.com/shorts/${ID}`,
    `https://youtube.com/shorts/${ID}?feature=share`,
    `https://www.youtube.com/live/${ID}`,
    `https://www.youtube.com/live/${ID}?si=x`,
    `https://www.youtube-nocookie.com/embed/${ID}`,
    `https://youtube-nocookie.com/embed/${ID}?rel=0`,
    `https://www.youtube.com/watch/${ID}`,
    `  https://WWW.YOUTUBE.COM/watch?v=${ID}  `,
  ])("%s", (url) => {
    expect(youtubeVideoId(url)).toBe(ID);
  });

  it("keeps _ and - in ids", () => {
    expect(youtubeVideoId("https://youtu.be/a_b-C_d-E_f")).toBe("a_b-C_d-E_f");
  });

  it.each([
    ["not a URL", "dQw4w9WgXcQ"],
    ["another scheme", `ftp://www.youtube.com/watch?v=${ID}`],
    ["javascript:", `javascript:alert('${ID}')`],
    ["another host", `https://www.example.com/watch?v=${ID}`],
    ["a look-alike host", `https://youtube.com.evil.test/watch?v=${ID}`],
    ["a look-alike short host", `https://notyoutu.be/${ID}`],
    ["no id", "https://www.youtube.com/watch"],
    ["an empty v", "https://www.youtube.com/watch?v="],
    ["an id too short", "https://www.youtube.com/watch?v=dQw4w9WgXc"],
    ["an id too long", "https://www.youtube.com/watch?v=dQw4w9WgXcQQ"],
    ["a bad character", "https://youtu.be/dQw4w9WgX!Q"],
    ["a channel page", "https://www.youtube.com/@somechannel"],
    ["a playlist", "https://www.youtube.com/playlist?list=PL1234567890"],
    ["a search", "https://www.youtube.com/results?search_query=cats"],
    ["the home page", "https://www.youtube.com/"],
    ["an extra path segment", `https://www.youtube.com/embed/${ID}/more`],
    ["a short link without id", "https://youtu.be/"],
    ["credentials", `https://user:pw@www.youtube.com/watch?v=${ID}`],
    ["a port", `https://www.youtube.com:8443/watch?v=${ID}`],
    ["nocookie watch", `https://www.youtube-nocookie.com/watch?v=${ID}`],
  ])("refuses %s", (_what, url) => {
    expect(youtubeVideoId(url)).toBeNull();
  });

  it("stores one canonical URL", () => {
    expect(canonicalVideoUrl(ID)).toBe(`https://www.youtube.com/watch?v=${ID}`);
  });
});

describe("player response", () => {
  it("finds the object in the page, braces in strings and code after it notwithstanding", () => {
    const player = { videoDetails: { title: 'A "quoted" {title}' }, playabilityStatus: { status: "OK" } };
    const html = `<script>var x = "ytInitialPlayerResponse";</script><script>var ytInitialPlayerResponse = ${JSON.stringify(player)};if (a) { b(); }</script>`;
    expect(findPlayerResponse(html)).toEqual(player);
    expect(findPlayerResponse(`<script>window["ytInitialPlayerResponse"] = ${JSON.stringify(player)};</script>`)).toEqual(player);
    expect(findPlayerResponse("<html><body>Before you continue to YouTube</body></html>")).toBeNull();
    expect(jsonObjectAt('{"a": "}\\"}"} tail', 0)).toBe('{"a": "}\\"}"}');
    expect(jsonObjectAt('{"a": 1', 0)).toBeNull();
  });

  it("reads title, playability and tracks", () => {
    const info = playerInfo({
      playabilityStatus: { status: "LOGIN_REQUIRED", reason: "Sign in to confirm your age" },
      videoDetails: { title: "T" },
      captions: {
        playerCaptionsTracklistRenderer: {
          captionTracks: [
            { baseUrl: "/api/timedtext?lang=de", languageCode: "de", name: { runs: [{ text: "German" }] } },
            { baseUrl: "", languageCode: "fr" },
            { baseUrl: "https://x.test/t", languageCode: "en", kind: "asr", name: { simpleText: "English (auto-generated)" } },
          ],
          audioTracks: [{ defaultCaptionTrackIndex: 0 }],
        },
      },
    });
    expect(info).toEqual({
      status: "LOGIN_REQUIRED",
      reason: "Sign in to confirm your age",
      title: "T",
      tracks: [
        { baseUrl: "/api/timedtext?lang=de", languageCode: "de", name: "German", kind: undefined },
        { baseUrl: "https://x.test/t", languageCode: "en", kind: "asr", name: "English (auto-generated)" },
      ],
      defaultTrack: 0,
    });
  });
});

describe("choosing a caption track", () => {
  const t = (languageCode: string, kind?: string): CaptionTrack => ({ baseUrl: `/${languageCode}${kind ?? ""}`, languageCode, kind });

  it("prefers written captions in the spoken language (that of the automatic track)", () => {
    expect(chooseTrack([t("en"), t("de"), t("de", "asr")])).toEqual(t("de"));
    expect(chooseTrack([t("en"), t("pt-BR"), t("pt", "asr")])).toEqual(t("pt-BR"));
  });
  it("else YouTube's default track's language, then English, then the first written one", () => {
    expect(chooseTrack([t("en"), t("fr")], 1)).toEqual(t("fr"));
    expect(chooseTrack([t("fr"), t("en-GB")])).toEqual(t("en-GB"));
    expect(chooseTrack([t("fr"), t("de")])).toEqual(t("fr"));
  });
  it("takes the automatic track only when nobody wrote captions", () => {
    expect(chooseTrack([t("es", "asr")])).toEqual(t("es", "asr"));
    expect(chooseTrack([])).toBeNull();
  });
});

describe("timedtext", () => {
  it("reads <transcript><text> with doubly encoded entities and stray markup", () => {
    const xml = `<?xml version="1.0" encoding="utf-8" ?><transcript>
      <text start="0.5" dur="1.5">Tom &amp;amp; Jerry&amp;#39;s   show</text>
      <text start="2" dur="1">&amp;lt;font color=&amp;quot;#fff&amp;quot;&amp;gt;coloured&amp;lt;/font&amp;gt; a &amp;lt; b</text>
      <text start="3" dur="1"></text>
    </transcript>`;
    expect(parseTimedText(xml)).toEqual([
      { start: 0.5, duration: 1.5, text: "Tom & Jerry's show" },
      { start: 2, duration: 1, text: "coloured a < b" },
    ]);
  });

  it("reads srv3 <timedtext><body><p t d> in milliseconds, with word spans", () => {
    const xml = `<timedtext format="3"><body><p t="1200" d="800"><s>Hello</s><s t="300"> there</s></p><p t="2500" d="1000">caf&#233; &amp; more</p></body></timedtext>`;
    expect(parseTimedText(xml)).toEqual([
      { start: 1.2, duration: 0.8, text: "Hello there" },
      { start: 2.5, duration: 1, text: "café & more" },
    ]);
  });

  it("joins captions into paragraphs at pauses and at sentence ends of long runs", () => {
    const c = (start: number, text: string, duration = 1) => ({ start, duration, text });
    expect(captionsToParagraphs([c(0, "Hello and"), c(1, "welcome."), c(2, "[Music]"), c(5.5, "After a pause."), c(6.5, "More.")])).toBe(
      "Hello and welcome.\n\nAfter a pause. More.",
    );
    const sentence = "This sentence is exactly fifty characters long ok.";
    const many = Array.from({ length: 30 }, (_, i) => c(i, sentence));
    const paragraphs = captionsToParagraphs(many).split("\n\n");
    expect(paragraphs.length).toBeGreaterThan(1);
    for (const p of paragraphs) {
      expect(p.length).toBeLessThanOrEqual(560);
      expect(p.endsWith(".")).toBe(true);
    }
    // No sentence ends: a hard break keeps paragraphs bounded anyway.
    const runOn = captionsToParagraphs(Array.from({ length: 60 }, (_, i) => c(i, "and then some more words without end")));
    expect(Math.max(...runOn.split("\n\n").map((p) => p.length))).toBeLessThanOrEqual(1040);
  });
});

describe("POST import_external/youtube", () => {
  let server: TestServer;
  let stub: YoutubeStub;
  let tenant: Tenant;
  const { callJson } = http(() => server);
  const PATH = "/v1/api/knowledge_base/import_external/youtube";

  beforeAll(async () => {
    stub = await startYoutubeStub();
    // No OUTBOUND_ALLOWLIST: YOUTUBE_BASE_URL is the operator's, a trusted origin.
    server = await startServer({}, { YOUTUBE_BASE_URL: stub.url });
    tenant = await seed(server.app).workspace("Tube");
    stub.video("aaaaaaaaaaa", {
      title: "How refunds work",
      tracks: [
        { lang: "en", kind: "asr", captions: [[0, 2, "auto text"]] },
        { lang: "de", captions: [[0, 2, "Deutsch"]] },
        {
          lang: "en",
          captions: [
            [0, 2, "Welcome to the refunds guide."],
            [2, 2, "You can return any item within 30 days."],
            [7, 2, "Refunds reach your card in five days."],
          ],
        },
      ],
    });
    stub.video("bbbbbbbbbbb", { title: "Silent film", tracks: [] });
    stub.video("ccccccccccc", { title: "Private", status: "LOGIN_REQUIRED", reason: "This video is private" });
    stub.video("ddddddddddd", { title: "Auto only", tracks: [{ lang: "en", kind: "asr", format: "srv3", absolute: true, captions: [[0, 1, "zebra crossing lessons"]] }] });
  });
  afterAll(async () => {
    await server?.stop();
    await stub?.stop();
  });

  const importRow = (handle: string) =>
    until(`import ${handle} to finish`, async () => {
      const row = await server.app.runtime.db.knowledgeImport.findFirst({ where: { handle } });
      return row && ["completed", "failed"].includes(row.status) ? row : null;
    });

  it("imports the transcript as a URL article under the canonical watch URL", async () => {
    const token = (await tenant.token("write_all")).secret;
    const uuid = randomUUID();
    const res = await callJson(PATH, { method: "POST", token, body: { url: "https://youtu.be/aaaaaaaaaaa?si=share", toast_process_uuid: uuid } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: "success", url: "https://www.youtube.com/watch?v=aaaaaaaaaaa", import_id: expect.any(String), toast_process_uuid: uuid });

    const row = await importRow(uuid);
    expect(row).toMatchObject({ id: res.body.import_id, kind: "youtube", status: "completed", created: 1, failed: 0 });
    const articles = await callJson("/v1/api/knowledge_base/articles/?types=URL", { token });
    expect(articles.body.items).toEqual([
      expect.objectContaining({ type: "URL", title: "How refunds work", url: "https://www.youtube.com/watch?v=aaaaaaaaaaa", deploy_state: "published" }),
    ]);
    const full = await callJson(`/v1/api/knowledge_base/articles/${articles.body.items[0].id}`, { token });
    // The written English track (the spoken language), not the automatic one or German; a pause starts a paragraph.
    expect(full.body.content).toBe("Welcome to the refunds guide. You can return any item within 30 days.\n\nRefunds reach your card in five days.");
    const kb = await callJson("/v1/api/knowledge_base/", { token });
    expect(kb.body.retrain_state).toBe("to_be_retrained");
    const search = await callJson("/v1/api/knowledge_base/articles/search?query=refunds%20card", { token });
    expect(search.body.article_snapshots.items.map((a: { id: number }) => a.id)).toContain(articles.body.items[0].id);
    expect(stub.requests).toContain("/watch?v=aaaaaaaaaaa");
  });

  it("takes an automatic srv3 track when that is all there is, from an absolute caption URL", async () => {
    const token = (await tenant.token("write_all")).secret;
    const uuid = randomUUID();
    const res = await callJson(PATH, { method: "POST", token, body: { url: "https://www.youtube.com/shorts/ddddddddddd", toast_process_uuid: uuid } });
    expect(res.status).toBe(202);
    expect(await importRow(uuid)).toMatchObject({ status: "completed", created: 1 });
    const found = await callJson("/v1/api/knowledge_base/articles/search?query=zebra", { token });
    expect(found.body.article_snapshots.items).toEqual([expect.objectContaining({ title: "Auto only" })]);
  });

  it("re-importing the same video from another URL form updates the one article", async () => {
    const other = await tenant.scenario("Re-import");
    const token = (await other.token("write_all")).secret;
    for (const url of ["https://www.youtube.com/watch?v=aaaaaaaaaaa&t=3", "https://m.youtube.com/watch?v=aaaaaaaaaaa"]) {
      const uuid = randomUUID();
      expect((await callJson(PATH, { method: "POST", token, body: { url, toast_process_uuid: uuid } })).status).toBe(202);
      await importRow(uuid);
    }
    const list = await callJson("/v1/api/knowledge_base/articles/", { token });
    expect(list.body.count).toBe(1);
  });

  it.each([
    ["bbbbbbbbbbb", /has no captions/],
    ["ccccccccccc", /unavailable: This video is private/],
    ["zzzzzzzzzzz", /unavailable: Video unavailable/],
  ])("a video without a transcript (%s) ends the import failed, saying why", async (id, why) => {
    const t = await seed(server.app).workspace("No transcript");
    const token = (await t.token("write_all")).secret;
    const uuid = randomUUID();
    expect((await callJson(PATH, { method: "POST", token, body: { url: `https://youtu.be/${id}`, toast_process_uuid: uuid } })).status).toBe(202);
    const row = await importRow(uuid);
    expect(row.status).toBe("failed");
    expect(row.error).toMatch(why);
    expect((await callJson("/v1/api/knowledge_base/articles/", { token })).body.count).toBe(0);
  });

  it("the same toast_process_uuid twice in one scenario is a conflict", async () => {
    const t = await seed(server.app).workspace("Twice");
    const token = (await t.token("write_all")).secret;
    const uuid = randomUUID();
    const body = { url: "https://youtu.be/aaaaaaaaaaa", toast_process_uuid: uuid };
    expect((await callJson(PATH, { method: "POST", token, body })).status).toBe(202);
    const again = await callJson(PATH, { method: "POST", token, body });
    expect(again.status).toBe(409);
    expect(again.body).toEqual(quickchatError("CONFLICT"));
    // Another scenario may use the same handle.
    const other = await seed(server.app).workspace("Twice, elsewhere");
    expect((await callJson(PATH, { method: "POST", token: (await other.token("write_all")).secret, body })).status).toBe(202);
  });

  describe("bad input changes nothing", () => {
    const v1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
    it.each([
      ["missing url", { toast_process_uuid: randomUUID() }, /^url: is required/],
      ["url not a string", { url: 5, toast_process_uuid: randomUUID() }, /^url: must be a string/],
      ["not a YouTube URL", { url: "https://vimeo.com/123456", toast_process_uuid: randomUUID() }, /^url: not a YouTube video URL/],
      ["not a URL", { url: "hello", toast_process_uuid: randomUUID() }, /^url: not a YouTube video URL/],
      ["a file URL", { url: "file:///etc/passwd", toast_process_uuid: randomUUID() }, /^url: not a YouTube video URL/],
      ["missing toast_process_uuid", { url: `https://youtu.be/${ID}` }, /^toast_process_uuid: is required/],
      ["a v1 UUID", { url: `https://youtu.be/${ID}`, toast_process_uuid: v1 }, /^toast_process_uuid: must be a UUID v4/],
      ["not a UUID", { url: `https://youtu.be/${ID}`, toast_process_uuid: "toast-1" }, /^toast_process_uuid: must be a UUID v4/],
      ["an unknown field", { url: `https://youtu.be/${ID}`, toast_process_uuid: randomUUID(), mode: "x" }, /mode/],
    ])("%s → 422", async (_what, body, message) => {
      const t = await seed(server.app).workspace("Bad input");
      const res = await callJson(PATH, { method: "POST", token: (await t.token("write_all")).secret, body });
      expect(res.status).toBe(422);
      expect(res.body).toEqual(quickchatError("VALIDATION_ERROR", message));
      expect(await server.app.runtime.db.knowledgeImport.count({ where: { scenarioId: t.scenarioId } })).toBe(0);
    });

    it("no body → 422", async () => {
      const res = await callJson(PATH, { method: "POST", token: (await tenant.token("write_all")).secret });
      expect(res.status).toBe(422);
    });
  });

  it("needs a valid write_all token", async () => {
    const body = { url: `https://youtu.be/${ID}`, toast_process_uuid: randomUUID() };
    expect((await callJson(PATH, { method: "POST", body })).status).toBe(401);
    expect((await callJson(PATH, { method: "POST", token: "not-a-token", body })).status).toBe(401);
    const read = await callJson(PATH, { method: "POST", token: (await tenant.token("read_all")).secret, body });
    expect(read.status).toBe(403);
    expect(read.body).toEqual(quickchatError("PERMISSION_DENIED", WRITE_SCOPE_MESSAGE));
    expect(await server.app.runtime.db.knowledgeImport.count({ where: { handle: body.toast_process_uuid } })).toBe(0);
  });
});
