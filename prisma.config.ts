// Prisma CLI configuration. The JavaScript engine with a driver adapter keeps the CLI offline
// (no native schema-engine download); Parley applies its committed SQL migrations itself
// (src/db/migrate.ts), so the CLI only generates clients and diffs schemas.
import { defineConfig } from "prisma/config";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  async adapter() {
    return new PrismaBetterSQLite3({ url: ":memory:" });
  },
});
