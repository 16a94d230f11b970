// Derives prisma/postgres/schema.prisma from prisma/schema.prisma: same models, PostgreSQL
// provider, its own generated client. The Pothos types come from the SQLite schema only (they
// are the same for both).
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

export function derivePostgres(source) {
  const derived =
    "// GENERATED from prisma/schema.prisma by scripts/derive-postgres-schema.mjs. Do not edit.\n" +
    source
      .replace(/generator pothos \{[^}]*\}\n\n?/, "")
      .replace('output       = "../src/generated/sqlite"', 'output       = "../../src/generated/postgres"')
      .replace('provider = "sqlite"', 'provider = "postgresql"')
      .replace('url      = "file:./unused.db"', 'url      = "postgresql://localhost:5432/unused"');
  if (!derived.includes('provider = "postgresql"') || !derived.includes("src/generated/postgres")) {
    throw new Error("derive-postgres-schema: prisma/schema.prisma no longer has the expected blocks");
  }
  return derived;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync("prisma/postgres", { recursive: true });
  writeFileSync("prisma/postgres/schema.prisma", derivePostgres(readFileSync("prisma/schema.prisma", "utf8")));
}
