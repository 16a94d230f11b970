import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEVELOPER_SCOPES } from "../src/auth/scopes.ts";
import { hashSecret } from "../src/auth/credentials.ts";
import { freshDatabase, startServer, type TestServer } from "./helpers/server.ts";
import { bearer, http } from "./helpers/http.ts";

const TSX = "node_modules/.bin/tsx";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let db: Awaited<ReturnType<typeof freshDatabase>>;
let server: TestServer;
let first: InitOutput;

/** Runs the CLI as a child process against this file's database. */
function cli(...args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: db.dataDir };
  delete env.DATABASE_URL;
  delete env.PARLEY_SECRET;
  delete env.NODE_OPTIONS;
  if (db.databaseUrl) env.DATABASE_URL = db.databaseUrl;
  return new Promise((resolve) => {
    execFile(TSX, ["src/cli.ts", ...args], { env, timeout: 25_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<Run> {
  const run = await cli(...args);
  if (run.code !== 0) throw new Error(`parley ${args.join(" ")} exited ${run.code}: ${run.stderr}`);
  return run;
}

async function okJson<T = any>(...args: string[]): Promise<T> {
  return JSON.parse((await ok(...args, "--json")).stdout) as T;
}

interface InitOutput {
  workspaceId: string;
  scenarioId: string;
  tokens: { readAll: string; writeAll: string };
  developerKey: string;
  widgetKey: string;
  legacyApiKey: string;
}

const { get, graphql } = http(() => server);

const viewer = (secret: string) => graphql("{ viewer { kind scopes workspaceId scenarioId } }", { auth: secret });

beforeAll(async () => {
  db = await freshDatabase();
  // The CLI creates and migrates the database; the server then starts on the very same one.
  const run = await ok("init", "--json");
  first = JSON.parse(run.stdout);
  server = await startServer({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

describe("parley init", () => {
  it("--json prints exactly the credentials object and nothing else", async () => {
    const run = await ok("init", "--json");
    expect(run.stderr).toBe("");
    const out = JSON.parse(run.stdout);
    expect(Object.keys(out)).toEqual(["workspaceId", "scenarioId", "tokens", "developerKey", "widgetKey", "legacyApiKey"]);
    expect(Object.keys(out.tokens)).toEqual(["readAll", "writeAll"]);
    for (const v of [out.workspaceId, out.scenarioId, out.tokens.readAll, out.tokens.writeAll, out.developerKey, out.widgetKey, out.legacyApiKey]) {
      expect(typeof v).toBe("string");
      expect(v.length).toBeGreaterThan(0);
    }
    expect(out.developerKey).toMatch(/^cw_dev_/);
    expect(out.widgetKey).toMatch(/^cw_live_/);
  });

  it("is idempotent: one workspace, fresh credentials on every run", async () => {
    const again = await okJson<InitOutput>("init");
    expect(again.workspaceId).toBe(first.workspaceId);
    expect(again.scenarioId).toBe(first.scenarioId);
    expect(again.tokens.readAll).not.toBe(first.tokens.readAll);
    expect(again.developerKey).not.toBe(first.developerKey);
    expect(again.widgetKey).not.toBe(first.widgetKey);
    expect(again.legacyApiKey).not.toBe(first.legacyApiKey);
    expect(await server.app.runtime.db.workspace.count()).toBe(1);
    expect(await server.app.runtime.db.scenario.count({ where: { workspaceId: first.workspaceId } })).toBeGreaterThanOrEqual(1);
    // The earlier credentials keep working.
    expect((await get("/v1/api/chatbot_settings", bearer(first.tokens.readAll))).status).toBe(200);
    expect((await get("/v1/api/chatbot_settings", bearer(again.tokens.readAll))).status).toBe(200);
  });

  it("without --json prints a readable listing", async () => {
    const run = await ok("init");
    expect(run.stdout).toContain(first.workspaceId);
    expect(run.stdout).toContain(first.scenarioId);
    expect(run.stdout).toMatch(/cw_dev_/);
    expect(() => JSON.parse(run.stdout)).toThrow();
  });

  it("prints credentials that work against a server on the same database", async () => {
    expect((await get("/v1/api/chatbot_settings", bearer(first.tokens.readAll))).status).toBe(200);
    expect((await get("/v1/api/chatbot_settings", bearer(first.tokens.writeAll))).status).toBe(200);
    expect((await get("/v1/api/chatbot_settings", bearer("nope.nope.nope"))).status).toBe(401);

    const dev = await viewer(first.developerKey);
    expect(dev.status).toBe(200);
    expect(dev.body.data.viewer.kind).toBe("developer");
    expect(dev.body.data.viewer.workspaceId).toBe(first.workspaceId);
    expect([...dev.body.data.viewer.scopes].sort()).toEqual([...DEVELOPER_SCOPES].sort());

    const token = await viewer(first.tokens.writeAll);
    expect(token.body.data.viewer).toMatchObject({ kind: "scenario_token", scenarioId: first.scenarioId });

    expect((await get("/api/v1/chat/config", { "x-site-key": first.widgetKey })).status).toBe(200);

    const legacy = await server.app.runtime.db.credential.findFirst({ where: { secretHash: hashSecret(first.legacyApiKey) } });
    expect(legacy).toMatchObject({ kind: "legacy", scenarioId: first.scenarioId, revokedAt: null });
  });
});

describe("parley token", () => {
  it("creates a token that works, and revokes it (then 401)", async () => {
    const t = await okJson("token", "create", "--scenario", first.scenarioId, "--scope", "read_all", "--expires-in-days", "7");
    expect(Object.keys(t)).toEqual(["id", "token", "scope", "expiresAt"]);
    expect(t.scope).toBe("read_all");
    expect(new Date(t.expiresAt).toISOString()).toBe(t.expiresAt);
    const days = (Date.parse(t.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    expect((await get("/v1/api/chatbot_settings", bearer(t.token))).status).toBe(200);

    const revoked = await ok("token", "revoke", t.id);
    expect(revoked.stdout).toContain(t.id);
    expect((await get("/v1/api/chatbot_settings", bearer(t.token))).status).toBe(401);
    // Revoking twice is harmless.
    await ok("token", "revoke", t.id);
  });

  it("creates write_all tokens with the default lifetime", async () => {
    const t = await okJson("token", "create", "--scenario", first.scenarioId, "--scope", "write_all");
    expect(t.scope).toBe("write_all");
    expect((Date.parse(t.expiresAt) - Date.now()) / 86_400_000).toBeGreaterThan(360);
    const v = await viewer(t.token);
    expect([...v.body.data.viewer.scopes].sort()).toEqual(["read_all", "write_all"]);
  });
});

describe("parley key", () => {
  it("creates and revokes a developer key", async () => {
    const k = await okJson("key", "create", "--kind", "developer", "--workspace", first.workspaceId, "--scopes", "conversations:read, leads:read");
    expect(Object.keys(k)).toEqual(["id", "key", "kind"]);
    expect(k.kind).toBe("developer");
    const v = await viewer(k.key);
    expect(v.status).toBe(200);
    expect([...v.body.data.viewer.scopes].sort()).toEqual(["conversations:read", "leads:read"]);

    await ok("key", "revoke", k.id);
    expect((await viewer(k.key)).status).toBe(401);
  });

  it("creates a developer key bound to a team member", async () => {
    const member = await server.app.runtime.db.teamMember.create({ data: { workspaceId: first.workspaceId, name: "Ops" } });
    const k = await okJson("key", "create", "--kind", "developer", "--workspace", first.workspaceId, "--scopes", "tasks:read", "--member", member.id);
    const row = await server.app.runtime.db.credential.findUniqueOrThrow({ where: { id: k.id } });
    expect(row.memberId).toBe(member.id);
  });

  it("creates and revokes a widget key", async () => {
    const k = await okJson("key", "create", "--kind", "widget", "--scenario", first.scenarioId);
    expect(k).toMatchObject({ kind: "widget", key: expect.stringMatching(/^cw_live_/) });
    expect((await get("/api/v1/chat/config", { "x-site-key": k.key })).status).toBe(200);
    await ok("key", "revoke", k.id);
    expect((await get("/api/v1/chat/config", { "x-site-key": k.key })).status).toBe(401);
  });

  it("creates and revokes a legacy key", async () => {
    const k = await okJson("key", "create", "--kind", "legacy", "--scenario", first.scenarioId);
    expect(k.kind).toBe("legacy");
    const find = () => server.app.runtime.db.credential.findUniqueOrThrow({ where: { id: k.id } });
    expect(await find()).toMatchObject({ kind: "legacy", secretHash: hashSecret(k.key), revokedAt: null });
    await ok("key", "revoke", k.id);
    expect((await find()).revokedAt).toBeInstanceOf(Date);
  });
});

describe("parley scenario", () => {
  it("creates a scenario a new token can be issued for", async () => {
    const s = await okJson("scenario", "create", "--workspace", first.workspaceId, "--name", "Support bot");
    expect(Object.keys(s)).toEqual(["id", "name", "workspaceId"]);
    expect(s).toMatchObject({ name: "Support bot", workspaceId: first.workspaceId });
    const t = await okJson("token", "create", "--scenario", s.id, "--scope", "read_all");
    expect((await viewer(t.token)).body.data.viewer.scenarioId).toBe(s.id);
  });
});

describe("parley migrate and --help", () => {
  it("migrate reports that nothing is pending on a migrated database", async () => {
    const run = await ok("migrate");
    expect(run.stdout).toMatch(/no pending migrations/i);
  });

  it("--help prints usage and exits 0", async () => {
    const run = await ok("--help");
    for (const c of ["migrate", "init", "token create", "token revoke", "key create", "key revoke", "scenario create"]) {
      expect(run.stdout).toContain(c);
    }
  });
});

describe("bad arguments: non-zero exit, one line on stderr, nothing on stdout", () => {
  const W = () => first.workspaceId;
  const S = () => first.scenarioId;
  const cases: [string, () => string[], RegExp?][] = [
    ["no command", () => []],
    ["unknown command", () => ["frobnicate"], /unknown command/],
    ["unknown option", () => ["init", "--bogus"], /bogus/],
    ["unexpected argument", () => ["init", "extra"], /extra/],
    ["missing subcommand", () => ["token"]],
    ["unknown subcommand", () => ["token", "mint"], /unknown command/],
    ["token create without --scenario", () => ["token", "create", "--scope", "read_all"], /--scenario/],
    ["token create without --scope", () => ["token", "create", "--scenario", S()], /--scope/],
    ["token create with a bad scope", () => ["token", "create", "--scenario", S(), "--scope", "admin"], /scope/],
    ["non-integer --expires-in-days", () => ["token", "create", "--scenario", S(), "--scope", "read_all", "--expires-in-days", "1.5"], /expires-in-days/],
    ["non-numeric --expires-in-days", () => ["token", "create", "--scenario", S(), "--scope", "read_all", "--expires-in-days", "soon"], /expires-in-days/],
    ["zero --expires-in-days", () => ["token", "create", "--scenario", S(), "--scope", "read_all", "--expires-in-days", "0"], /expiresInDays/],
    ["token create for an unknown scenario", () => ["token", "create", "--scenario", "nope", "--scope", "read_all"], /Scenario not found/],
    ["token revoke without an id", () => ["token", "revoke"], /ID/],
    ["token revoke of an unknown id", () => ["token", "revoke", "nope"], /Credential not found/],
    ["key create without --kind", () => ["key", "create", "--scenario", S()], /--kind/],
    ["key create with a bad kind", () => ["key", "create", "--kind", "master", "--scenario", S()], /--kind/],
    ["developer key without --scopes", () => ["key", "create", "--kind", "developer", "--workspace", W()], /--scopes/],
    ["developer key without --workspace", () => ["key", "create", "--kind", "developer", "--scopes", "leads:read"], /--workspace/],
    ["developer key with --scenario", () => ["key", "create", "--kind", "developer", "--workspace", W(), "--scopes", "leads:read", "--scenario", S()], /--scenario/],
    ["developer key with an unknown scope", () => ["key", "create", "--kind", "developer", "--workspace", W(), "--scopes", "leads:read,root"], /scopes/],
    ["developer key for an unknown workspace", () => ["key", "create", "--kind", "developer", "--workspace", "nope", "--scopes", "leads:read"], /Workspace not found/],
    ["developer key for an unknown member", () => ["key", "create", "--kind", "developer", "--workspace", W(), "--scopes", "leads:read", "--member", "nope"], /Team member not found/],
    ["widget key without --scenario", () => ["key", "create", "--kind", "widget"], /--scenario/],
    ["widget key with --workspace", () => ["key", "create", "--kind", "widget", "--scenario", S(), "--workspace", W()], /--workspace/],
    ["legacy key for an unknown scenario", () => ["key", "create", "--kind", "legacy", "--scenario", "nope"], /Scenario not found/],
    ["key revoke of an unknown id", () => ["key", "revoke", "nope"], /Credential not found/],
    ["scenario create without --name", () => ["scenario", "create", "--workspace", W()], /--name/],
    ["scenario create with a blank name", () => ["scenario", "create", "--workspace", W(), "--name", "  "], /name/],
    ["scenario create in an unknown workspace", () => ["scenario", "create", "--workspace", "nope", "--name", "X"], /Workspace not found/],
  ];

  it.concurrent.each(cases)("%s", async (_name, args, message) => {
    const run = await cli(...args());
    expect(run.code, run.stderr).not.toBe(0);
    expect(run.code).toBeGreaterThan(0);
    expect(run.stdout).toBe("");
    expect(run.stderr.endsWith("\n")).toBe(true);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    if (message) expect(run.stderr).toMatch(message);
  });

  it("bad configuration is one line too", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: db.dataDir, DATABASE_URL: "mysql://nope" };
    delete env.NODE_OPTIONS;
    const run = await new Promise<Run>((resolve) =>
      execFile(TSX, ["src/cli.ts", "migrate"], { env }, (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
      ),
    );
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/DATABASE_URL/);
  });
});
