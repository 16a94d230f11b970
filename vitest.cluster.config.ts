import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

// The cluster tests (npm run test:cluster): real Parley processes on one PostgreSQL and one Redis
// that scripts/test-cluster.sh starts. One file at a time: the files share those two servers, and
// the fault tests stop and restart them.
export default defineConfig({
  resolve: { alias: { graphql: require.resolve("graphql/index.js") } },
  test: {
    include: ["test/cluster/**/*.test.ts"],
    // Starting Parley processes (tsx, migrations) on a busy 2-core machine takes a while.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    fileParallelism: false,
  },
});
