import { lexicographicSortSchema } from "graphql";
import { builder } from "./builder.ts";
import "./scalars.ts";
import "./workspaces.ts";
import "./credentials.ts";
import "./viewer.ts";

export const schema = lexicographicSortSchema(builder.toSchema());
