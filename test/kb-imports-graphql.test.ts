import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./helpers/server.ts";
import { seed } from "./helpers/seed.ts";
import { errorCodes, http } from "./helpers/http.ts";
import { poller } from "./helpers/wait.ts";
import { html, startSiteStub, type SiteStub } from "./helpers/site-stub.ts";

// Imports started through GraphQL (frontend apps): the same services as the REST routes, for a
// scenario named by id, with GraphQL's errors.

const until = poller({ timeoutMs: 20_000, intervalMs: 25 });
const IMPORT_LINKS = `mutation($s: ID!, $links: [String!]!, $tags: [String!]) {
  importLinks(scenarioId: $s, links: $links, tags: $tags) { id kind status total params } }`;
const IMPORT_WEBSITE = `mutation($s: ID!, $url: String!, $mode: WebsiteImportMode, $h: String) {
  importWebsite(scenarioId: $s, url: $url, mode: $mode, handle: $h) { id handle kind status } }`;
const YOUTUBE = `mutation($s: ID!, $url: String!, $h: String!) { importYoutubeTranscript(scenarioId: $s, url: $url, handle: $h) { id } }`;
const STATUS = `query($id: ID!) { knowledgeImport(id: $id) { id status created failed } }`;
const DELETE = `mutation($s: ID!, $links: [String!]!) { deleteImportedLinks(scenarioId: $s, links: $links) { deleted notFound } }`;

let server: TestServer;
let site: SiteStub;
const { gql } = http(() => server.url);

beforeAll(async () => {
  site = await startSiteStub({
    "/faq": html("FAQ", "<main><p>Parcels ship within two days.</p></main>"),
    "/returns": html("Returns", "<main><p>Returns are free for thirty days.</p></main>"),
  });
  server = await startServer({}, { OUTBOUND_ALLOWLIST: "127.0.0.1" });
});
afterAll(async () => {
  await server?.stop();
  await site?.stop();
});

describe("GraphQL imports", () => {
  it("a developer key imports links into a scenario it names, then removes one", async () => {
    const t = await seed(server.app).workspace("GraphQL importer");
    const key = (await t.developerKey()).secret;
    const links = [`${site.url}/faq`, `${site.url}/returns`];
    const started = await gql(key, IMPORT_LINKS, { s: t.scenarioId, links, tags: ["help"] });
    expect(started.errors).toBeUndefined();
    expect(started.data.importLinks).toMatchObject({ kind: "links", total: 2, params: { tags: ["help"] } });
    const id = started.data.importLinks.id;
    const done = await until("import completed", async () => {
      const r = (await gql(key, STATUS, { id })).data?.knowledgeImport;
      return r?.status === "completed" ? r : null;
    });
    expect(done).toMatchObject({ created: 2, failed: 0 });
    const removed = await gql(key, DELETE, { s: t.scenarioId, links: [`${site.url}/faq`, `${site.url}/nowhere`] });
    expect(removed.data.deleteImportedLinks).toEqual({ deleted: [`${site.url}/faq`], notFound: [`${site.url}/nowhere`] });
  });

  it("a handle names the import; the same handle twice in a scenario is a CONFLICT", async () => {
    const t = await seed(server.app).workspace("Handles");
    const key = (await t.developerKey()).secret;
    const handle = "3f0c6f3e-8a0b-4a51-9a65-2b8d0f0f4d11";
    const first = await gql(key, IMPORT_WEBSITE, { s: t.scenarioId, url: `${site.url}/faq`, mode: "individual", h: handle });
    expect(first.data.importWebsite).toMatchObject({ handle, kind: "website" });
    expect((await gql(key, STATUS, { id: handle })).data.knowledgeImport.id).toBe(first.data.importWebsite.id);
    const again = await gql(key, IMPORT_WEBSITE, { s: t.scenarioId, url: `${site.url}/faq`, h: handle });
    expect(errorCodes(again)).toEqual(["CONFLICT"]);
  });

  it("bad input is a VALIDATION_ERROR and starts nothing", async () => {
    const t = await seed(server.app).workspace("Bad input");
    const key = (await t.developerKey()).secret;
    const count = async () => (await gql(key, `query($s: ID!) { knowledgeImports(scenarioId: $s, first: 1) { totalCount } }`, { s: t.scenarioId })).data.knowledgeImports.totalCount;
    expect(errorCodes(await gql(key, IMPORT_WEBSITE, { s: t.scenarioId, url: "ftp://example.com/file" }))).toEqual(["VALIDATION_ERROR"]);
    expect(errorCodes(await gql(key, IMPORT_LINKS, { s: t.scenarioId, links: [] }))).toEqual(["VALIDATION_ERROR"]);
    expect(errorCodes(await gql(key, YOUTUBE, { s: t.scenarioId, url: "https://youtu.be/dQw4w9WgXcQ", h: "not-a-uuid" }))).toEqual(["VALIDATION_ERROR"]);
    // A version 1 UUID is not a v4.
    expect(errorCodes(await gql(key, YOUTUBE, { s: t.scenarioId, url: "https://youtu.be/dQw4w9WgXcQ", h: "c232ab00-9414-11ec-b3c8-9f6bdeced846" }))).toEqual(["VALIDATION_ERROR"]);
    expect(errorCodes(await gql(key, `query($s: ID!) { knowledgeImports(scenarioId: $s, first: 1, status: "done") { totalCount } }`, { s: t.scenarioId }))).toEqual(["VALIDATION_ERROR"]);
    expect(await count()).toBe(0);
  });

  it("another tenant's scenario is NOT_FOUND; a key without assistant:write is PERMISSION_DENIED; a read_all token cannot import", async () => {
    const a = await seed(server.app).workspace("Owner");
    const b = await seed(server.app).workspace("Stranger");
    const stranger = (await b.developerKey()).secret;
    expect(errorCodes(await gql(stranger, IMPORT_LINKS, { s: a.scenarioId, links: [`${site.url}/faq`] }))).toEqual(["NOT_FOUND"]);
    const reader = (await a.developerKey(["assistant:read"])).secret;
    expect(errorCodes(await gql(reader, IMPORT_LINKS, { s: a.scenarioId, links: [`${site.url}/faq`] }))).toEqual(["PERMISSION_DENIED"]);
    const readToken = (await a.token("read_all")).secret;
    expect(errorCodes(await gql(readToken, IMPORT_LINKS, { s: a.scenarioId, links: [`${site.url}/faq`] }))).toEqual(["PERMISSION_DENIED"]);
  });
});
