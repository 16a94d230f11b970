// Writes the next SQL migration for each provider from the change in prisma/schema.prisma since
// the last migration (prisma/migrations/migrated.prisma is the schema as of that migration).
//   npm run migrations -- <name>     write prisma/migrations/{sqlite,postgres}/<stamp>_<name>/migration.sql
//                                    (appending prisma/sql/<provider>/<name>.sql when it exists)
//   npm run migrations -- --check    exit 1 when schema.prisma has changes no migration covers
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync, mkdtempSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { derivePostgres } from "./derive-postgres-schema.mjs";

const snapshot = "prisma/migrations/migrated.prisma";
const work = mkdtempSync(join(tmpdir(), "parley-migrations-"));

function diff(fromSource, toSource, provider) {
  const to = join(work, `to-${provider}.prisma`);
  writeFileSync(to, provider === "postgres" ? derivePostgres(toSource) : toSource);
  const args = ["prisma", "migrate", "diff", "--to-schema-datamodel", to, "--script"];
  if (fromSource === null) args.push("--from-empty");
  else {
    const from = join(work, `from-${provider}.prisma`);
    writeFileSync(from, provider === "postgres" ? derivePostgres(fromSource) : fromSource);
    args.push("--from-schema-datamodel", from);
  }
  const out = execFileSync("npx", args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return out.replace(/^Loaded Prisma config.*\n/m, "").trim();
}

const current = readFileSync("prisma/schema.prisma", "utf8");
const previous = existsSync(snapshot) ? readFileSync(snapshot, "utf8") : null;
const scripts = { sqlite: diff(previous, current, "sqlite"), postgres: diff(previous, current, "postgres") };
const empty = (sql) => sql === "" || /^-- This is an empty migration\.?$/.test(sql);

if (process.argv.includes("--check")) {
  if (!empty(scripts.sqlite) || !empty(scripts.postgres)) {
    console.error("prisma/schema.prisma has changes that no migration covers: run npm run migrations -- <name>");
    process.exit(1);
  }
  process.exit(0);
}

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error("usage: npm run migrations -- <name>   (lower-case letters, digits and _)");
  process.exit(1);
}
if (empty(scripts.sqlite) && empty(scripts.postgres)) {
  console.error("no schema changes since the last migration");
  process.exit(1);
}
const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
for (const [provider, sql] of Object.entries(scripts)) {
  const dir = `prisma/migrations/${provider}/${stamp}_${name}`;
  // What Prisma's schema cannot say (full-text indexes): prisma/sql/<provider>/<name>.sql.
  const extraFile = `prisma/sql/${provider}/${name}.sql`;
  const extra = existsSync(extraFile) ? `\n\n-- From ${extraFile}\n${readFileSync(extraFile, "utf8").trim()}` : "";
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "migration.sql"), sql + extra + "\n");
  console.log(`wrote ${dir}/migration.sql`);
}
copyFileSync("prisma/schema.prisma", snapshot);
