import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { Provider } from "../src/db/client.ts";
import { listMigrations, migrate } from "../src/db/migrate.ts";
import { freshDatabase } from "./helpers/server.ts";

const PG = process.env.TEST_DATABASE_URL;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A temp migrations root; write(provider, name, sql) adds or changes one migration. */
function migrationsRoot() {
  const root = mkdtempSync(join(tmpdir(), "parley-migrations-"));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  return {
    root,
    write(provider: Provider, name: string, sql: string) {
      mkdirSync(join(root, provider, name), { recursive: true });
      writeFileSync(join(root, provider, name, "migration.sql"), sql);
    },
  };
}

/** One database per test, with a way to ask it what exists. */
interface Target {
  provider: Provider;
  location: string;
  tables(): Promise<string[]>;
  recorded(): Promise<string[]>;
  /** Runs one statement; SELECTs answer their rows. */
  sql<T = Record<string, unknown>>(statement: string): Promise<T[]>;
}

async function sqliteTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "parley-migrate-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "test.db");
  const query = <T>(sql: string): T[] => {
    const db = new BetterSqlite3(file);
    try {
      const stmt = db.prepare(sql);
      if (!stmt.reader) {
        stmt.run();
        return [];
      }
      return stmt.all() as T[];
    } finally {
      db.close();
    }
  };
  return {
    provider: "sqlite",
    location: file,
    async sql<T>(statement: string) {
      return query<T>(statement);
    },
    async tables() {
      return query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").map((r) => r.name);
    },
    async recorded() {
      return query<{ name: string }>(`SELECT name FROM "_parley_migrations" ORDER BY name`).map((r) => r.name);
    },
  };
}

async function postgresTarget(): Promise<Target> {
  const db = await freshDatabase();
  cleanups.push(() => db.drop());
  const query = async <T extends pg.QueryResultRow>(sql: string): Promise<T[]> => {
    const client = new pg.Client({ connectionString: db.databaseUrl });
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    provider: "postgres",
    location: db.databaseUrl!,
    sql: async <T,>(statement: string) => (await query(statement)) as T[],
    async tables() {
      return (await query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")).map(
        (r) => r.name,
      );
    },
    async recorded() {
      return (await query<{ name: string }>(`SELECT name FROM "_parley_migrations" ORDER BY name`)).map((r) => r.name);
    },
  };
}

const targets: { name: string; skip: boolean; make: () => Promise<Target> }[] = [
  { name: "SQLite", skip: false, make: sqliteTarget },
  { name: "PostgreSQL", skip: !PG, make: postgresTarget },
];

for (const { name, skip, make } of targets) {
  describe(`migrate on ${name}`, () => {
    it.skipIf(skip)("applies pending migrations once; a second run applies none", async () => {
      const t = await make();
      const m = migrationsRoot();
      m.write(t.provider, "001_people", `CREATE TABLE people (id INTEGER PRIMARY KEY);`);
      m.write(t.provider, "002_pets", `CREATE TABLE pets (id INTEGER PRIMARY KEY);\nCREATE TABLE toys (id INTEGER PRIMARY KEY);`);
      const migrations = listMigrations(t.provider, m.root);
      expect(migrations.map((x) => x.name)).toEqual(["001_people", "002_pets"]);

      expect(await migrate(t.provider, t.location, migrations)).toEqual({ applied: ["001_people", "002_pets"] });
      expect(await t.tables()).toEqual(expect.arrayContaining(["people", "pets", "toys"]));
      expect(await migrate(t.provider, t.location, listMigrations(t.provider, m.root))).toEqual({ applied: [] });

      m.write(t.provider, "003_food", `CREATE TABLE food (id INTEGER PRIMARY KEY);`);
      expect(await migrate(t.provider, t.location, listMigrations(t.provider, m.root))).toEqual({ applied: ["003_food"] });
      expect(await t.recorded()).toEqual(["001_people", "002_pets", "003_food"]);
    });

    it.skipIf(skip)("a failing migration leaves the database as it was and names the migration", async () => {
      const t = await make();
      const m = migrationsRoot();
      m.write(t.provider, "001_people", `CREATE TABLE people (id INTEGER PRIMARY KEY);`);
      await migrate(t.provider, t.location, listMigrations(t.provider, m.root));

      m.write(t.provider, "002_broken", `CREATE TABLE half_done (id INTEGER PRIMARY KEY);\nCREATE TABLOID nope (id INTEGER);`);
      await expect(migrate(t.provider, t.location, listMigrations(t.provider, m.root))).rejects.toThrow(/002_broken/);
      expect(await t.tables()).not.toContain("half_done");
      expect(await t.tables()).toContain("people");
      expect(await t.recorded()).toEqual(["001_people"]);

      // Fixed, it applies on the next run.
      m.write(t.provider, "002_broken", `CREATE TABLE half_done (id INTEGER PRIMARY KEY);`);
      expect(await migrate(t.provider, t.location, listMigrations(t.provider, m.root))).toEqual({ applied: ["002_broken"] });
    });

    it.skipIf(skip)("refuses to run when an applied migration's file changed", async () => {
      const t = await make();
      const m = migrationsRoot();
      m.write(t.provider, "001_people", `CREATE TABLE people (id INTEGER PRIMARY KEY);`);
      await migrate(t.provider, t.location, listMigrations(t.provider, m.root));

      m.write(t.provider, "001_people", `CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT);`);
      m.write(t.provider, "002_pets", `CREATE TABLE pets (id INTEGER PRIMARY KEY);`);
      await expect(migrate(t.provider, t.location, listMigrations(t.provider, m.root))).rejects.toThrow(
        /001_people.*checksum/,
      );
      expect(await t.tables()).not.toContain("pets");
      expect(await t.recorded()).toEqual(["001_people"]);
    });

    it.skipIf(skip)("the real migrations apply to an empty database", async () => {
      const t = await make();
      const real = listMigrations(t.provider);
      expect(real.length).toBeGreaterThan(0);
      expect((await migrate(t.provider, t.location)).applied).toEqual(real.map((x) => x.name));
      expect(await t.tables()).toEqual(expect.arrayContaining(["Workspace", "Scenario", "Credential"]));
      expect((await migrate(t.provider, t.location)).applied).toEqual([]);
    });

    it.skipIf(skip)("the knowledge-base migration gives scenarios that already exist their state row", async () => {
      const t = await make();
      const [init, ...rest] = listMigrations(t.provider);
      await migrate(t.provider, t.location, [init!]);
      await t.sql(`INSERT INTO "Workspace" ("id", "name", "updatedAt") VALUES ('w1', 'Old', CURRENT_TIMESTAMP)`);
      await t.sql(`INSERT INTO "Scenario" ("id", "workspaceId", "name", "updatedAt") VALUES ('s1', 'w1', 'Old assistant', CURRENT_TIMESTAMP)`);
      await migrate(t.provider, t.location, [init!, ...rest]);
      const rows = await t.sql<{ scenarioId: string; changeCount: number }>(`SELECT "scenarioId", "changeCount" FROM "KnowledgeBaseState"`);
      expect(rows.map((r) => [r.scenarioId, Number(r.changeCount)])).toEqual([["s1", 0]]);
    });

    it.skipIf(skip)("the conversations migration keeps existing rows (table rebuilds do not cascade) and numbers them", async () => {
      const t = await make();
      const all = listMigrations(t.provider);
      const upTo = all.findIndex((x) => x.name.endsWith("_conversations"));
      await migrate(t.provider, t.location, all.slice(0, upTo));
      await t.sql(`INSERT INTO "Workspace" ("id", "name", "updatedAt") VALUES ('w1', 'Old', CURRENT_TIMESTAMP)`);
      await t.sql(`INSERT INTO "Scenario" ("id", "workspaceId", "name", "updatedAt") VALUES ('s1', 'w1', 'Old assistant', CURRENT_TIMESTAMP)`);
      await t.sql(`INSERT INTO "KnowledgeBaseState" ("scenarioId", "updatedAt") VALUES ('s1', CURRENT_TIMESTAMP)`);
      await t.sql(`INSERT INTO "Conversation" ("id", "scenarioId", "ord", "updatedAt") VALUES ('c1', 's1', 7, CURRENT_TIMESTAMP)`);
      await t.sql(`INSERT INTO "ConversationEvent" ("id", "conversationId", "ord", "author", "content") VALUES ('e1', 'c1', 3, 'visitor', 'hi')`);
      await migrate(t.provider, t.location, all);
      expect((await t.sql<{ id: string }>(`SELECT "id" FROM "ConversationEvent"`)).map((r) => r.id)).toEqual(["e1"]);
      const [c] = await t.sql<{ eventCount: number }>(`SELECT "eventCount" FROM "Conversation" WHERE "id" = 'c1'`);
      expect(Number(c!.eventCount)).toBe(3);
      const [s] = await t.sql<{ conversationCount: number }>(`SELECT "conversationCount" FROM "Scenario" WHERE "id" = 's1'`);
      expect(Number(s!.conversationCount)).toBe(7);
      expect(await t.sql(`SELECT "scenarioId" FROM "KnowledgeBaseState"`)).toHaveLength(1);
    });
  });
}

describe("concurrent migrate", () => {
  it.skipIf(!PG)("two concurrent runs on a fresh PostgreSQL database apply each migration exactly once (advisory lock)", async () => {
    const t = await postgresTarget();
    const migrations = listMigrations("postgres");
    const results = await Promise.all([
      migrate(t.provider, t.location, migrations),
      migrate(t.provider, t.location, migrations),
      migrate(t.provider, t.location, migrations),
    ]);
    const applied = results.flatMap((r) => r.applied);
    expect(applied.sort()).toEqual(migrations.map((x) => x.name).sort());
    expect(await t.recorded()).toEqual(migrations.map((x) => x.name));
  });
});
