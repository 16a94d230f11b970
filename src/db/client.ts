import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as SqliteClient } from "../generated/sqlite/client.ts";
import { PrismaClient as PostgresClient } from "../generated/postgres/client.ts";
import type { Config } from "../config.ts";

/**
 * Both generated clients expose the same API (they are generated from one schema); the SQLite
 * client's type stands for both.
 */
export type Db = SqliteClient;
export type Provider = "sqlite" | "postgres";

export interface Database {
  prisma: Db;
  provider: Provider;
  /** Driver-level location: a file path for SQLite, the connection URL for PostgreSQL. */
  location: string;
  close(): Promise<void>;
}

export function sqlitePath(config: Pick<Config, "dataDir">): string {
  return join(config.dataDir, "parley.db");
}

export function openDatabase(config: Pick<Config, "databaseUrl" | "dataDir">): Database {
  if (config.databaseUrl) {
    const adapter = new PrismaPg({
      connectionString: config.databaseUrl,
      connectionTimeoutMillis: 5000,
      max: 10,
    });
    const prisma = new PostgresClient({ adapter }) as unknown as Db;
    return { prisma, provider: "postgres", location: config.databaseUrl, close: () => prisma.$disconnect() };
  }
  mkdirSync(config.dataDir, { recursive: true });
  const file = sqlitePath(config);
  const adapter = new PrismaBetterSQLite3({ url: `file:${file}` });
  const prisma = new SqliteClient({ adapter });
  return { prisma, provider: "sqlite", location: file, close: () => prisma.$disconnect() };
}
