import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM } from "../src/auth/scopes.ts";
import { JobRunner, type JobRow } from "../src/jobs/runner.ts";
import { createServiceContext, type Runtime } from "../src/services/context.ts";
import { markKnowledgeBaseChanged, registerKnowledgeBaseJobs, RETRAIN_JOB, STATE_CHANGED } from "../src/services/knowledge-base.ts";
import { trainAnswerIndex } from "../src/services/knowledge-base-training.ts";
import { freshDatabase, startServer, type TestServer } from "./helpers/server.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { errorCodes, http, quickchatError } from "./helpers/http.ts";
import { poller, sleep } from "./helpers/wait.ts";
import { graphqlWsClients } from "./helpers/ws.ts";

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };

let server: TestServer;
let a: Tenant;
let b: Tenant;
let aWrite: string;
let aRead: string;
/** Writes for the many rejected-body cases (writes are limited to 60/min per token). */
let aReject: string;
let aCheck: string;

beforeAll(async () => {
  server = await startServer({ jobs: JOBS });
  const s = seed(server.app);
  a = await s.workspace("Alpha");
  b = await s.workspace("Beta");
  aWrite = (await a.token("write_all")).secret;
  aRead = (await a.token("read_all")).secret;
  aReject = (await a.token("write_all")).secret;
  aCheck = (await a.token("read_all")).secret;
});
afterAll(() => server?.stop());

const KB = "/v1/api/knowledge_base/";
const RETRAIN = "/v1/api/knowledge_base/retrain/";
const SETTINGS = "/v1/api/chatbot_settings";

const { call, gql } = http(() => server);

async function getKb(token: string, url?: string) {
  const res = await call(KB, { token, url });
  expect(res.status).toBe(200);
  return res.json();
}

/** Retraining runs in the background: wait for it up to 15 s, probing every 40 ms. */
const until = poller({ timeoutMs: 15_000, intervalMs: 40 });

/** A published article, written straight to the database: version 1 holds `content`. */
async function publishedArticle(s: TestServer, t: Tenant, title: string, content: string, tags: string[] = [], now = new Date()) {
  const db = s.app.runtime.db;
  return db.$transaction(async (tx) => {
    const article = await tx.article.create({
      data: { scenarioId: t.scenarioId, title, content, tags, tagsText: tags.join(" "), version: 1, maxAvailableVersion: 1, deployState: "published", state: "published" },
    });
    await tx.articleVersion.create({ data: { articleId: article.id, version: 1, title, content, tags } });
    await markKnowledgeBaseChanged(s.app.runtime, tx, t.scenarioId, now);
    return article;
  });
}

/** A job row held by `workerId` under a lease that holds (so no runner claims it). */
function heldJob(t: Tenant, workerId: string, kind = "test.kb.retrain"): Promise<JobRow> {
  return server.app.runtime.db.job.create({
    data: {
      kind,
      workspaceId: t.workspaceId,
      scenarioId: t.scenarioId,
      payload: { scenarioId: t.scenarioId },
      status: "running",
      attempts: 1,
      lockedBy: workerId,
      lockedUntil: new Date(Date.now() + 60_000),
    },
  });
}

/**
 * The server's runtime, but `meanwhile` runs right after the training's first read (the list of
 * published articles) returns: what happens there happens while the job runs.
 */
function runtimeWhere(meanwhile: () => Promise<void>): Runtime {
  const runtime = server.app.runtime;
  const bind = (target: object, p: string | symbol) => {
    const v = Reflect.get(target, p);
    return typeof v === "function" ? v.bind(target) : v;
  };
  const article = new Proxy(runtime.db.article, {
    get: (target, p) =>
      p === "findMany"
        ? async (args: any) => {
            const rows = await target.findMany(args);
            await meanwhile();
            return rows;
          }
        : bind(target, p),
  });
  const db = new Proxy(runtime.db, { get: (target, p) => (p === "article" ? article : bind(target, p)) });
  return { ...runtime, db };
}

describe("GET/PATCH /v1/api/knowledge_base/", () => {
  it("GET (documented curl) returns the documented shape; never trained is null", async () => {
    const res = await call(KB, { token: aRead });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ one_word_description: "", short_description: "", ai_commands: [], retrain_state: null });
    const slashless = await call("/v1/api/knowledge_base", { token: aRead });
    expect(slashless.status).toBe(200);
  });

  it("PATCH (documented curl) changes only the fields sent and returns the whole object", async () => {
    const res = await call(KB, { method: "PATCH", token: aWrite, body: { one_word_description: "Sales Bot" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ one_word_description: "Sales Bot", short_description: "", ai_commands: [], retrain_state: null });
    const all = await call(KB, {
      method: "PATCH",
      token: aWrite,
      body: { short_description: "A helpful customer support assistant.", ai_commands: ["Be polite", "Stay on topic"] },
    });
    expect(await all.json()).toEqual({
      one_word_description: "Sales Bot",
      short_description: "A helpful customer support assistant.",
      ai_commands: ["Be polite", "Stay on topic"],
      retrain_state: null,
    });
  });

  it("is one source of truth with chatbot settings", async () => {
    await call(KB, { method: "PATCH", token: aWrite, body: { one_word_description: "Support Agent", ai_commands: ["Be kind"] } });
    const settings = await (await call(SETTINGS, { token: aRead })).json();
    expect(settings).toMatchObject({ one_word_description: "Support Agent", ai_commands: ["Be kind"] });
    const patched = await call(SETTINGS, { method: "PATCH", token: aWrite, body: { short_description: "From settings", ai_commands: ["One", "Two"] } });
    expect(patched.status).toBe(200);
    expect(await getKb(aRead)).toMatchObject({ one_word_description: "Support Agent", short_description: "From settings", ai_commands: ["One", "Two"] });
  });

  it("accepts the documented maxima", async () => {
    const body = { one_word_description: "n".repeat(200), short_description: "d".repeat(2000), ai_commands: ["c".repeat(500)] };
    const res = await call(KB, { method: "PATCH", token: aWrite, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ...body, retrain_state: null });
  });

  it("rejects limits, unknown fields and wrong types with 422 naming the field, changing nothing", async () => {
    const before = await getKb(aCheck);
    const cases: [unknown, RegExp][] = [
      [{ one_word_description: "n".repeat(201) }, /^one_word_description/],
      [{ short_description: "d".repeat(2001) }, /^short_description/],
      [{ ai_commands: ["ok", "c".repeat(501)] }, /^ai_commands\.1/],
      [{ one_word_description: "fine", personality: 3 }, /personality/],
      [{ retrain_state: "up_to_date" }, /retrain_state/],
      [{ one_word_description: 5 }, /^one_word_description/],
      [{ short_description: null }, /^short_description/],
      [{ ai_commands: "Be polite" }, /^ai_commands/],
      [{ ai_commands: [1] }, /^ai_commands\.0/],
    ];
    for (const [body, field] of cases) {
      const res = await call(KB, { method: "PATCH", token: aReject, body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      const json = await res.json();
      expect(json).toEqual(quickchatError("VALIDATION_ERROR"));
      expect(json.errors.root[0].message).toMatch(field);
    }
    const notObject = await call(KB, { method: "PATCH", token: aReject, raw: "[1]" });
    expect(notObject.status).toBe(422);
    expect(await getKb(aCheck)).toEqual(before);
  });

  it("a read_all token cannot PATCH or retrain (403), and nothing changes", async () => {
    const before = await getKb(aCheck);
    const jobsBefore = await server.app.runtime.db.job.count({ where: { scenarioId: a.scenarioId } });
    const patch = await call(KB, { method: "PATCH", token: aRead, body: { one_word_description: "Nope" } });
    expect(patch.status).toBe(403);
    expect(await patch.json()).toEqual(quickchatError("PERMISSION_DENIED", "Insufficient token scope. Required: write_all"));
    const retrain = await call(RETRAIN, { method: "POST", token: aRead });
    expect(retrain.status).toBe(403);
    expect(await retrain.json()).toEqual(quickchatError("PERMISSION_DENIED", "Insufficient token scope. Required: write_all"));
    expect(await getKb(aCheck)).toEqual(before);
    expect(await server.app.runtime.db.job.count({ where: { scenarioId: a.scenarioId } })).toBe(jobsBefore);
  });

  it("without a token answers 401", async () => {
    expect((await call(KB)).status).toBe(401);
    expect((await call(RETRAIN, { method: "POST" })).status).toBe(401);
  });
});

describe("POST /v1/api/knowledge_base/retrain/", () => {
  it("trains from published text only: to_be_retrained → 202 → in_progress → up_to_date", async () => {
    const t = await seed(server.app).workspace("Retrain");
    const write = (await t.token("write_all")).secret;
    const read = (await t.token("read_all")).secret;
    const db = server.app.runtime.db;
    const returns = await publishedArticle(server, t, "Return Policy", "Our return policy allows returns within 30 days.", ["policy"]);
    const shipping = await publishedArticle(server, t, "Shipping", "We ship worldwide.");
    // A later draft: the working copy changes, the published version 1 stays in force.
    await db.article.update({ where: { id: shipping.id }, data: { content: "DRAFT: we ship to the moon.", deployState: "draft", state: "draft" } });
    // Never published: not in the index.
    await db.article.create({ data: { scenarioId: t.scenarioId, title: "Unpublished", content: "secret draft", tags: [] } });
    // Another scenario's article never leaks in.
    await publishedArticle(server, b, "Other", "Beta's article");
    expect((await getKb(read)).retrain_state).toBe("to_be_retrained");

    // The documented curl: POST with only the Authorization header.
    const res = await call(RETRAIN, { method: "POST", token: write });
    expect(res.status).toBe(202);
    const accepted = await res.json();
    expect(accepted).toEqual({ job_id: expect.any(String), retrain_state: expect.stringMatching(/^(to_be_retrained|in_progress|up_to_date)$/) });

    await until("up_to_date", async () => (await getKb(read)).retrain_state === "up_to_date");
    const entries = await db.answerIndexEntry.findMany({ where: { scenarioId: t.scenarioId }, orderBy: { articleId: "asc" } });
    expect(entries.map((e) => ({ articleId: e.articleId, version: e.version, title: e.title, content: e.content, tags: e.tags }))).toEqual([
      { articleId: returns.id, version: 1, title: "Return Policy", content: "Our return policy allows returns within 30 days.", tags: ["policy"] },
      { articleId: shipping.id, version: 1, title: "Shipping", content: "We ship worldwide.", tags: [] },
    ]);
    const state = await db.knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId: t.scenarioId } });
    expect(state).toMatchObject({ retrainState: "up_to_date", trainedArticles: 2, failureReason: null, jobId: accepted.job_id });
    expect(state.lastTrainedAt).toBeInstanceOf(Date);
    const job = await db.job.findUniqueOrThrow({ where: { id: accepted.job_id } });
    expect(job).toMatchObject({ kind: "kb.retrain", status: "succeeded", attempts: 1, result: { trainedArticles: 2, retrainState: "up_to_date" } });
    const events = await db.domainEvent.findMany({ where: { scenarioId: t.scenarioId, type: STATE_CHANGED }, orderBy: { createdAt: "asc" } });
    expect(events.map((e) => (e.payload as any).retrainState)).toEqual(["to_be_retrained", "in_progress", "up_to_date"]);

    // Any article change after training → to_be_retrained (through the articles service).
    const { createArticle } = await import("../src/services/articles.ts");
    await createArticle(createServiceContext(server.app.runtime, SYSTEM), { content: "New after training" }, t.scenarioId);
    expect((await getKb(read)).retrain_state).toBe("to_be_retrained");
    // The index still holds the trained text until the next training.
    expect(await db.answerIndexEntry.count({ where: { scenarioId: t.scenarioId } })).toBe(2);
  });

  it("a second request while a job is queued joins it: nothing more is enqueued, and it answers 202 all the same", async () => {
    const t = await seed(server.app).workspace("Once");
    const write = (await t.token("write_all")).secret;
    await server.app.runtime.jobs.stop();
    try {
      const first = await call(RETRAIN, { method: "POST", token: write });
      const second = await call("/v1/api/knowledge_base/retrain", { method: "POST", token: write });
      expect([first.status, second.status]).toEqual([202, 202]);
      const [j1, j2] = [await first.json(), await second.json()];
      expect(j2.job_id).toBe(j1.job_id);
      expect(j1.retrain_state).toBe("to_be_retrained");
      expect(await server.app.runtime.db.job.count({ where: { scenarioId: t.scenarioId } })).toBe(1);
    } finally {
      server.app.runtime.jobs.start();
    }
    const read = (await t.token("read_all")).secret;
    await until("up_to_date once the runner is back", async () => (await getKb(read)).retrain_state === "up_to_date");
  });

  it("a training that keeps failing is retried with backoff and ends failed with the reason", async () => {
    const t = await seed(server.app).workspace("Broken");
    const write = (await t.token("write_all")).secret;
    const db = server.app.runtime.db;
    // Published as version 7, but the version row is gone: training cannot take the published text.
    const broken = await db.article.create({
      data: { scenarioId: t.scenarioId, title: "Broken", content: "x", tags: [], version: 7, maxAvailableVersion: 7, deployState: "published", state: "published" },
    });
    const res = await call(RETRAIN, { method: "POST", token: write });
    expect(res.status).toBe(202);
    const { job_id } = await res.json();
    // The state moves to failed just before the runner records the job's own end.
    await until("failed", async () => (await getKb(write)).retrain_state === "failed" && (await db.job.findUniqueOrThrow({ where: { id: job_id } })).status === "failed");
    const job = await db.job.findUniqueOrThrow({ where: { id: job_id } });
    const reason = `article ${broken.id}: published version 7 is missing`;
    expect(job).toMatchObject({ status: "failed", attempts: 5, maxAttempts: 5, lastError: reason });
    expect(await db.knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId: t.scenarioId } })).toMatchObject({ retrainState: "failed", failureReason: reason });
    const events = await db.domainEvent.findMany({ where: { scenarioId: t.scenarioId, type: STATE_CHANGED }, orderBy: { createdAt: "asc" } });
    expect(events.at(-1)!.payload).toEqual({ scenarioId: t.scenarioId, retrainState: "failed", failureReason: reason });
    // Fixing the content and retraining recovers.
    await db.articleVersion.create({ data: { articleId: broken.id, version: 7, title: "Broken", content: "fixed", tags: [] } });
    expect((await call(RETRAIN, { method: "POST", token: write })).status).toBe(202);
    await until("up_to_date", async () => (await getKb(write)).retrain_state === "up_to_date");
  });

  it("an article change committed while the job runs ends in to_be_retrained, whatever its timestamp", async () => {
    const t = await seed(server.app).workspace("Racing");
    const db = server.app.runtime.db;
    await publishedArticle(server, t, "One", "first");
    const job = await heldJob(t, "racer");
    // The write took its timestamp a minute before the job started (a clock behind, or a slow
    // transaction) but commits after the job read the content.
    const runtime = runtimeWhere(() => publishedArticle(server, t, "Two", "second", [], new Date(Date.now() - 60_000)).then(() => undefined));
    const result = await trainAnswerIndex(runtime, job, { workerId: "racer", signal: new AbortController().signal });
    expect(result).toEqual({ trainedArticles: 1, retrainState: "to_be_retrained" });
    expect(await db.knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId: t.scenarioId } })).toMatchObject({
      retrainState: "to_be_retrained",
      trainedArticles: 1,
      changeCount: 2,
    });
    expect((await getKb((await t.token("read_all")).secret)).retrain_state).toBe("to_be_retrained");
  });

  it("a content timestamp from a clock ahead does not keep a training from ending up_to_date", async () => {
    const t = await seed(server.app).workspace("Clock ahead");
    const write = (await t.token("write_all")).secret;
    // Written by a server whose clock runs a minute ahead; nothing changes while the job runs.
    await publishedArticle(server, t, "One", "first", [], new Date(Date.now() + 60_000));
    expect((await call(RETRAIN, { method: "POST", token: write })).status).toBe(202);
    await until("the job to finish", () => server.app.runtime.db.job.findFirst({ where: { scenarioId: t.scenarioId, status: "succeeded" } }));
    expect((await getKb(write)).retrain_state).toBe("up_to_date");
    expect(await server.app.runtime.db.answerIndexEntry.count({ where: { scenarioId: t.scenarioId } })).toBe(1);
  });

  it("a worker that lost its claim mid-run neither swaps the index nor ends the state", async () => {
    const t = await seed(server.app).workspace("Claim lost");
    const db = server.app.runtime.db;
    await publishedArticle(server, t, "One", "first");
    const job = await heldJob(t, "slow-worker");
    // Its lease ran out while it read; another worker took the job over.
    const runtime = runtimeWhere(async () => {
      await db.job.update({ where: { id: job.id }, data: { lockedBy: "other-worker", lockedUntil: new Date(Date.now() + 60_000), attempts: 2 } });
    });
    await expect(trainAnswerIndex(runtime, job, { workerId: "slow-worker", signal: new AbortController().signal })).rejects.toThrow(
      "this worker no longer holds the job",
    );
    expect(await db.answerIndexEntry.count({ where: { scenarioId: t.scenarioId } })).toBe(0);
    expect(await db.knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId: t.scenarioId } })).toMatchObject({ retrainState: "in_progress", lastTrainedAt: null });
    expect(await db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ status: "running", lockedBy: "other-worker" });
  });

  it("a job whose signal is aborted mid-run stops before writing the index", async () => {
    const t = await seed(server.app).workspace("Aborted");
    const db = server.app.runtime.db;
    await publishedArticle(server, t, "One", "first");
    const job = await heldJob(t, "aborted-worker");
    const abort = new AbortController();
    const runtime = runtimeWhere(async () => abort.abort(new Error("lease lost")));
    await expect(trainAnswerIndex(runtime, job, { workerId: "aborted-worker", signal: abort.signal })).rejects.toThrow("lease lost");
    expect(await db.answerIndexEntry.count({ where: { scenarioId: t.scenarioId } })).toBe(0);
    expect((await db.knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId: t.scenarioId } })).lastTrainedAt).toBeNull();
  });

  it("a request while a job runs queues one follow-up (later requests join it); the follow-up's newer training wins", async () => {
    const t = await seed(server.app).workspace("Follow-up");
    const write = (await t.token("write_all")).secret;
    const db = server.app.runtime.db;
    await publishedArticle(server, t, "One", "first");
    const running = await heldJob(t, "busy-worker", RETRAIN_JOB);
    let followUp = "";
    // While the first job runs (after it read the content): an article is added and retraining is
    // asked for twice; the follow-up runs to the end on the server's runner.
    const runtime = runtimeWhere(async () => {
      await publishedArticle(server, t, "Two", "second");
      // The server's runner paused, so the follow-up is still queued when the second request comes.
      await server.app.runtime.jobs.stop();
      const [first, second] = await (async () => {
        try {
          return [await call(RETRAIN, { method: "POST", token: write }), await call(RETRAIN, { method: "POST", token: write })];
        } finally {
          server.app.runtime.jobs.start();
        }
      })();
      expect([first.status, second.status]).toEqual([202, 202]);
      const [j1, j2] = [await first.json(), await second.json()];
      expect(j1.job_id).not.toBe(running.id);
      expect(j2.job_id).toBe(j1.job_id);
      expect(j1.retrain_state).toBe("in_progress");
      followUp = j1.job_id;
      expect(await db.job.count({ where: { scenarioId: t.scenarioId } })).toBe(2);
      await until("the follow-up to succeed", async () => (await db.job.findUniqueOrThrow({ where: { id: followUp } })).status === "succeeded");
    });
    try {
      // The first job ends last, with older content: it leaves the follow-up's index and state alone.
      await trainAnswerIndex(runtime, running, { workerId: "busy-worker", signal: new AbortController().signal });
    } finally {
      await db.job.update({ where: { id: running.id }, data: { status: "succeeded", lockedBy: null, lockedUntil: null } });
    }
    expect(await db.knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId: t.scenarioId } })).toMatchObject({
      retrainState: "up_to_date",
      jobId: followUp,
      trainedArticles: 2,
    });
    const entries = await db.answerIndexEntry.findMany({ where: { scenarioId: t.scenarioId }, orderBy: { articleId: "asc" } });
    expect(entries.map((e) => e.content)).toEqual(["first", "second"]);
  });

  it("a new scenario has its state row; the first concurrent article writes all succeed and each is counted", async () => {
    const t = await seed(server.app).workspace("Fresh");
    const db = server.app.runtime.db;
    expect(await db.knowledgeBaseState.findUnique({ where: { scenarioId: t.scenarioId } })).toMatchObject({ retrainState: null, changeCount: 0 });
    const write = (await t.token("write_all")).secret;
    const N = 6;
    const created = await Promise.all(
      Array.from({ length: N }, (_, i) => call("/v1/api/knowledge_base/articles/", { method: "POST", token: write, body: { content: `Concurrent ${i}` } })),
    );
    expect(created.map((r) => r.status)).toEqual(Array(N).fill(201));
    expect(await db.article.count({ where: { scenarioId: t.scenarioId } })).toBe(N);
    expect(await db.knowledgeBaseState.findUniqueOrThrow({ where: { scenarioId: t.scenarioId } })).toMatchObject({ retrainState: "to_be_retrained", changeCount: N });
    // One move to to_be_retrained, one event.
    expect(await db.domainEvent.count({ where: { scenarioId: t.scenarioId, type: STATE_CHANGED } })).toBe(1);
    expect((await getKb(write)).retrain_state).toBe("to_be_retrained");
  });
});

describe("restart", () => {
  it("a job cut off by a restart resumes on the next start", async () => {
    const db = await freshDatabase();
    const first = await startServer({ dataDir: db.dataDir, databaseUrl: db.databaseUrl, jobs: JOBS });
    let t: Tenant;
    let jobId: string;
    try {
      t = await seed(first.app).workspace("Crash");
      await publishedArticle(first, t, "Survivor", "Resumed text");
      // The first server's worker dies mid-job: its runner stops, the row says it still holds the job.
      await first.app.runtime.jobs.stop();
      const job = await first.app.runtime.db.job.create({
        data: {
          kind: "kb.retrain",
          workspaceId: t.workspaceId,
          scenarioId: t.scenarioId,
          payload: { scenarioId: t.scenarioId },
          status: "running",
          attempts: 1,
          lockedBy: "dead-worker",
          lockedUntil: new Date(Date.now() - 1000),
        },
      });
      jobId = job.id;
      await first.app.runtime.db.knowledgeBaseState.update({ where: { scenarioId: t.scenarioId }, data: { retrainState: "in_progress", jobId } });
    } finally {
      await first.app.stop();
    }
    const second = await startServer({ dataDir: db.dataDir, databaseUrl: db.databaseUrl, jobs: JOBS });
    try {
      const read = (await t!.token("read_all")).secret;
      await until("up_to_date after restart", async () => (await getKb(read, second.url)).retrain_state === "up_to_date");
      const job = await second.app.runtime.db.job.findUniqueOrThrow({ where: { id: jobId! } });
      expect(job).toMatchObject({ status: "succeeded", attempts: 2 });
      expect(job.lockedBy).toBeNull();
      const entries = await second.app.runtime.db.answerIndexEntry.findMany({ where: { scenarioId: t!.scenarioId } });
      expect(entries.map((e) => e.content)).toEqual(["Resumed text"]);
    } finally {
      await second.stop();
      await db.drop();
    }
  });
});

describe("GraphQL", () => {
  const wsClient = graphqlWsClients(() => server.wsUrl);

  const KB_QUERY = `query ($id: ID!) { scenario(id: $id) { knowledgeBase {
    oneWordDescription shortDescription aiCommands retrainState failureReason lastTrainedAt trainedArticles
    job { id status attempts lastError runAt } } } }`;
  const UPDATE = `mutation ($id: ID!, $input: UpdateKnowledgeBaseInput!) { updateKnowledgeBase(scenarioId: $id, input: $input) {
    oneWordDescription shortDescription aiCommands retrainState } }`;
  const RETRAIN_MUTATION = `mutation ($id: ID!) { retrainKnowledgeBase(scenarioId: $id) { retrainState job { id status } } }`;

  it("reads, updates and retrains with a developer key; shows the job's progress", async () => {
    const t = await seed(server.app).workspace("GraphQL KB");
    const key = (await t.developerKey(["assistant:read", "assistant:write"])).secret;
    const empty = await gql(key, KB_QUERY, { id: t.scenarioId });
    expect(empty.errors).toBeUndefined();
    expect(empty.data.scenario.knowledgeBase).toEqual({
      oneWordDescription: "",
      shortDescription: "",
      aiCommands: [],
      retrainState: null,
      failureReason: null,
      lastTrainedAt: null,
      trainedArticles: 0,
      job: null,
    });
    const updated = await gql(key, UPDATE, { id: t.scenarioId, input: { oneWordDescription: "Graph Bot", aiCommands: ["Short answers"] } });
    expect(updated.data.updateKnowledgeBase).toEqual({ oneWordDescription: "Graph Bot", shortDescription: "", aiCommands: ["Short answers"], retrainState: null });
    const tooLong = await gql(key, UPDATE, { id: t.scenarioId, input: { shortDescription: "x".repeat(2001) } });
    expect(errorCodes(tooLong)).toEqual(["VALIDATION_ERROR"]);
    expect(tooLong.errors![0].message).toMatch(/^short_description/);
    // An explicit null is rejected as over REST (PATCH {"one_word_description": null} → 422), not dropped.
    for (const input of [{ oneWordDescription: null }, { shortDescription: null }, { aiCommands: null }]) {
      const nulled = await gql(key, UPDATE, { id: t.scenarioId, input });
      expect(errorCodes(nulled), JSON.stringify(input)).toEqual(["VALIDATION_ERROR"]);
    }
    const nulled = await gql(key, UPDATE, { id: t.scenarioId, input: { oneWordDescription: null, shortDescription: "not applied" } });
    expect(errorCodes(nulled)).toEqual(["VALIDATION_ERROR"]);
    expect(nulled.errors![0].message).toMatch(/^one_word_description/);
    expect((await gql(key, KB_QUERY, { id: t.scenarioId })).data.scenario.knowledgeBase).toMatchObject({ oneWordDescription: "Graph Bot", shortDescription: "" });

    await publishedArticle(server, t, "Doc", "Graph text");
    const retrained = await gql(key, RETRAIN_MUTATION, { id: t.scenarioId });
    expect(retrained.errors).toBeUndefined();
    expect(retrained.data.retrainKnowledgeBase.job.id).toEqual(expect.any(String));
    await until("trained", async () => (await gql(key, KB_QUERY, { id: t.scenarioId })).data.scenario.knowledgeBase.retrainState === "up_to_date");
    const done = (await gql(key, KB_QUERY, { id: t.scenarioId })).data.scenario.knowledgeBase;
    expect(done).toMatchObject({ retrainState: "up_to_date", trainedArticles: 1, failureReason: null, job: { status: "succeeded", attempts: 1, lastError: null } });
    expect(done.job.id).toBe(retrained.data.retrainKnowledgeBase.job.id);
    expect(Date.parse(done.lastTrainedAt)).not.toBeNaN();
    // The same data as the REST view.
    const rest = await getKb((await t.token("read_all")).secret);
    expect(rest).toEqual({ one_word_description: "Graph Bot", short_description: "", ai_commands: ["Short answers"], retrain_state: "up_to_date" });
  });

  it("while a failed try waits for its retry: retrainState in_progress, the job queued with lastError and runAt", async () => {
    const t = await seed(server.app).workspace("GraphQL KB backoff");
    const key = (await t.developerKey(["assistant:read", "assistant:write"])).secret;
    const db = server.app.runtime.db;
    const broken = await db.article.create({
      data: { scenarioId: t.scenarioId, title: "Broken", content: "x", tags: [], version: 3, maxAvailableVersion: 3, deployState: "published", state: "published" },
    });
    // A runner with a long backoff, running the real handler, in place of the server's.
    await server.app.runtime.jobs.stop();
    const slow = new JobRunner({ db, provider: server.app.runtime.provider, clock: () => new Date(), workerId: "slow-retry" }, { pollMs: 25, backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
    registerKnowledgeBaseJobs({ ...server.app.runtime, jobs: slow });
    let jobId = "";
    try {
      const retrained = await gql(key, RETRAIN_MUTATION, { id: t.scenarioId });
      jobId = retrained.data.retrainKnowledgeBase.job.id;
      slow.start();
      await until("the first failure", async () => (await db.job.findUniqueOrThrow({ where: { id: jobId } })).lastError);
      await slow.stop();
      const kb = (await gql(key, KB_QUERY, { id: t.scenarioId })).data.scenario.knowledgeBase;
      expect(kb).toMatchObject({
        retrainState: "in_progress",
        failureReason: null,
        job: { id: jobId, status: "queued", attempts: 1, lastError: `article ${broken.id}: published version 3 is missing` },
      });
      expect(Date.parse(kb.job.runAt)).toBeGreaterThan(Date.now() + 30_000);
    } finally {
      await slow.stop();
      if (jobId) await db.job.update({ where: { id: jobId }, data: { status: "failed", finishedAt: new Date() } });
      server.app.runtime.jobs.start();
    }
  });

  it("a key without assistant scopes is PERMISSION_DENIED; another workspace's scenario is NOT_FOUND", async () => {
    const t = await seed(server.app).workspace("GraphQL KB denied");
    const noScope = (await t.developerKey(["conversations:read"])).secret;
    const readOnly = (await t.developerKey(["assistant:read"])).secret;
    const foreign = (await b.developerKey(["assistant:read", "assistant:write"])).secret;
    expect(errorCodes(await gql(noScope, KB_QUERY, { id: t.scenarioId }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(readOnly, UPDATE, { id: t.scenarioId, input: { oneWordDescription: "x" } }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(readOnly, RETRAIN_MUTATION, { id: t.scenarioId }))).toEqual(["PERMISSION_DENIED"]);
    expect(errorCodes(await gql(foreign, KB_QUERY, { id: t.scenarioId }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(foreign, UPDATE, { id: t.scenarioId, input: { oneWordDescription: "x" } }))).toEqual(["NOT_FOUND"]);
    expect(errorCodes(await gql(foreign, RETRAIN_MUTATION, { id: t.scenarioId }))).toEqual(["NOT_FOUND"]);
    expect(await server.app.runtime.db.job.count({ where: { scenarioId: t.scenarioId } })).toBe(0);
    expect((await server.app.runtime.db.chatbotSettings.findUniqueOrThrow({ where: { scenarioId: t.scenarioId } })).oneWordDescription).toBe("");
  });

  it("knowledgeBaseStateChanged reports in_progress then up_to_date (graphql-ws); other scenarios' changes are not sent", async () => {
    const t = await seed(server.app).workspace("GraphQL KB live");
    const other = await t.scenario("Other assistant");
    const key = (await t.developerKey(["assistant:read", "assistant:write"])).secret;
    const c = wsClient(key);
    const seen: any[] = [];
    let error: unknown;
    c.subscribe(
      { query: `subscription ($id: ID!) { knowledgeBaseStateChanged(scenarioId: $id) { scenarioId retrainState failureReason at } }`, variables: { id: t.scenarioId } },
      { next: (r) => (r.errors ? (error = r.errors) : seen.push(r.data!.knowledgeBaseStateChanged)), error: (e) => (error = e), complete: () => undefined },
    );
    // Going live is asynchronous: announce a harmless state change until the subscriber hears it.
    await until("the subscription to go live", async () => {
      const ev = await server.app.runtime.db.domainEvent.create({
        data: { workspaceId: t.workspaceId, scenarioId: t.scenarioId, type: STATE_CHANGED, payload: { scenarioId: t.scenarioId, retrainState: null, failureReason: null } },
      });
      server.app.runtime.events.publish([ev]);
      await sleep(50);
      return seen.length > 0 || error;
    });
    expect(error).toBeUndefined();
    seen.length = 0;
    // Another scenario of the workspace trains too: none of its changes arrive here.
    const otherWrite = (await other.token("write_all")).secret;
    expect((await call(RETRAIN, { method: "POST", token: otherWrite })).status).toBe(202);
    await publishedArticle(server, t, "Live", "Live text");
    expect((await gql(key, RETRAIN_MUTATION, { id: t.scenarioId })).errors).toBeUndefined();
    await until("up_to_date event", async () => seen.some((e) => e.retrainState === "up_to_date"));
    const states = seen.map((e) => e.retrainState);
    expect(states.slice(states.indexOf("in_progress"))).toEqual(["in_progress", "up_to_date"]);
    expect(seen.every((e) => e.scenarioId === t.scenarioId)).toBe(true);
    // An article change through the API announces to_be_retrained live, too.
    seen.length = 0;
    const write = (await t.token("write_all")).secret;
    const created = await call("/v1/api/knowledge_base/articles/", { method: "POST", token: write, body: { content: "Fresh text" } });
    expect(created.status).toBe(201);
    await until("to_be_retrained event", async () => seen.some((e) => e.retrainState === "to_be_retrained"));
    // Another workspace's key is told NOT_FOUND when it subscribes.
    const foreign = wsClient((await b.developerKey(["assistant:read"])).secret);
    const denied = await new Promise<any>((resolve) =>
      foreign.subscribe(
        { query: `subscription ($id: ID!) { knowledgeBaseStateChanged(scenarioId: $id) { retrainState } }`, variables: { id: t.scenarioId } },
        { next: (r) => resolve(r), error: (e) => resolve({ errors: e }), complete: () => resolve({}) },
      ),
    );
    expect(errorCodes(denied)).toEqual(["NOT_FOUND"]);
  });
});
