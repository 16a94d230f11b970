// Writes schema.graphql from the code-first schema. CI runs it and fails when the file changes.
import { writeFileSync } from "node:fs";
import { printSchema } from "graphql";
import { schema } from "../src/graphql/schema.ts";

writeFileSync("schema.graphql", printSchema(schema) + "\n");
