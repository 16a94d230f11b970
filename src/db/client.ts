import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as SqliteClient } from "../generated/sqlite/client.ts";
import { PrismaClient as PostgresClient } from "../generated/postgres/client.ts";
import type { Config } from "../config.ts";
import { immediateTransactions, PrismaRawLane, SqliteLane, useDataModel, type SqlLane, type SqliteAdapter } from "./sql.ts";

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
  /** Hand-written statements for hot paths (see sql.ts). */
  sql: SqlLane;
  close(): Promise<void>;
}

export function sqlitePath(config: Pick<Config, "dataDir">): string {
  return join(config.dataDir, "parley.db");
}

export function openDatabase(config: Pick<Config, "databaseUrl" | "dataDir">): Database {
  if (config.databaseUrl) {
    const adapter = new PrismaPg({
      connectionString: config.databaseUrl,
      // How long a query waits for a pooled connection (all busy, or the server not answering):
      // past it, the request answers 503 (see db/faults.ts) instead of hanging.
      connectionTimeoutMillis: 5000,
      // TCP keep-alive after 10 s idle (the system default waits two hours): pooled connections to a
      // server that vanished without closing them (host down, network cut) are found dead and
      // replaced instead of handed to the next query.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      max: 10,
    });
    const prisma = new PostgresClient({ adapter }) as unknown as Db;
    useDataModel(prisma);
    return { prisma, provider: "postgres", location: config.databaseUrl, sql: new PrismaRawLane(prisma, "postgres"), close: () => prisma.$disconnect() };
  }
  mkdirSync(config.dataDir, { recursive: true });
  const file = sqlitePath(config);
  const factory = new PrismaBetterSQLite3({ url: `file:${file}` });
  // The SQL lane runs on the connection Prisma opens (one connection, one transaction mutex), so
  // keep hold of the adapter each connect() makes.
  let connected: Promise<SqliteAdapter> | undefined;
  const connect = factory.connect.bind(factory);
  factory.connect = () => {
    const adapter = connect();
    connected = adapter.then((a) => {
      const sqlite = a as unknown as SqliteAdapter;
      immediateTransactions(sqlite);
      return sqlite;
    });
    return adapter;
  };
  const prisma = new SqliteClient({ adapter: factory });
  useDataModel(prisma);
  const lane = new SqliteLane(async () => {
    if (!connected) await prisma.$connect();
    if (!connected) throw new Error("Prisma connected without its SQLite adapter");
    return connected;
  });
  return { prisma, provider: "sqlite", location: file, sql: lane, close: () => prisma.$disconnect() };
}
