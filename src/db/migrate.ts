import { createHash } from "node:crypto";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import type { Provider } from "./client.ts";

const MIGRATIONS_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../prisma/migrations");
/** Arbitrary constant: the advisory lock that serialises migration runs across instances. */
const PG_LOCK_KEY = 726_539_001;
const TABLE = "_parley_migrations";

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function listMigrations(provider: Provider, root = MIGRATIONS_ROOT): Migration[] {
  const dir = join(root, provider);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, "migration.sql")))
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

export interface MigrateResult {
  applied: string[];
}

function checkApplied(applied: Map<string, string>, migrations: Migration[]): Migration[] {
  for (const m of migrations) {
    const sum = applied.get(m.name);
    if (sum !== undefined && sum !== m.checksum) {
      throw new Error(`migration ${m.name} was changed after it was applied (checksum mismatch)`);
    }
  }
  return migrations.filter((m) => !applied.has(m.name));
}

/**
 * Applies pending migrations, each in its own transaction together with its bookkeeping row, so a
 * failing migration leaves the database as it was before that migration.
 */
export async function migrate(
  provider: Provider,
  location: string,
  migrations: Migration[] = listMigrations(provider),
): Promise<MigrateResult> {
  return provider === "sqlite" ? migrateSqlite(location, migrations) : migratePostgres(location, migrations);
}

function migrateSqlite(file: string, migrations: Migration[]): MigrateResult {
  const db = new BetterSqlite3(file, { timeout: 10_000 });
  try {
    db.pragma("journal_mode = WAL");
    // Prisma's SQLite migrations rebuild a table (create new, copy, drop old, rename) under
    // "PRAGMA foreign_keys=OFF", which is a no-op inside a transaction. better-sqlite3 enables
    // foreign keys by default, so dropping the old table would cascade-delete every child row:
    // turn enforcement off for the connection, and check the keys before each commit instead.
    db.pragma("foreign_keys = OFF");
    db.exec(`CREATE TABLE IF NOT EXISTS "${TABLE}" (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`);
    const appliedNames: string[] = [];
    // One transaction per migration, like PostgreSQL: a failure keeps the ones before it. BEGIN
    // IMMEDIATE takes the write lock up front, so a second process waits and then re-reads.
    const applyNext = db.transaction((): boolean => {
      const rows = db.prepare(`SELECT name, checksum FROM "${TABLE}"`).all() as { name: string; checksum: string }[];
      const m = checkApplied(new Map(rows.map((r) => [r.name, r.checksum])), migrations)[0];
      if (!m) return false;
      try {
        db.exec(m.sql);
        const broken = db.pragma("foreign_key_check") as unknown[];
        if (broken.length) throw new Error(`${broken.length} rows break foreign keys: ${JSON.stringify(broken.slice(0, 3))}`);
      } catch (err) {
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      db.prepare(`INSERT INTO "${TABLE}" (name, checksum, applied_at) VALUES (?, ?, ?)`).run(
        m.name,
        m.checksum,
        new Date().toISOString(),
      );
      appliedNames.push(m.name);
      return true;
    });
    while (applyNext.immediate());
    return { applied: appliedNames };
  } finally {
    db.close();
  }
}

async function migratePostgres(url: string, migrations: Migration[]): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [PG_LOCK_KEY]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${TABLE}" (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM "${TABLE}"`);
    const applied: string[] = [];
    for (const m of checkApplied(new Map(rows.map((r) => [r.name, r.checksum])), migrations)) {
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query(`INSERT INTO "${TABLE}" (name, checksum) VALUES ($1, $2)`, [m.name, m.checksum]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(m.name);
    }
    return { applied };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [PG_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}
