import { createRequire } from "node:module";
import { configDefaults, defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  // One graphql instance: without this Vite loads both its ESM and CJS builds ("another realm").
  resolve: { alias: { graphql: require.resolve("graphql/index.js") } },
  test: {
    include: ["test/**/*.test.ts"],
    // Cluster tests need Redis, PostgreSQL and several processes: npm run test:cluster runs them.
    exclude: [...configDefaults.exclude, "test/cluster/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file starts its own servers on free ports with its own database.
    pool: "forks",
    fileParallelism: true,
  },
});
