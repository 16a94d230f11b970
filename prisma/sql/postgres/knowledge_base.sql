-- Full-text search of articles: stored tsvector columns (all searchable text; content alone, for
-- with_title_url_and_tags=false), computed by PostgreSQL on every write, with GIN indexes. Stored
-- vectors let ranking (ts_rank) read them instead of re-parsing every matching row.
ALTER TABLE "Article" ADD COLUMN "searchAll" tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', coalesce("title", '') || ' ' || "content" || ' ' || coalesce("url", '') || ' ' || "tagsText")
) STORED;
ALTER TABLE "Article" ADD COLUMN "searchContent" tsvector GENERATED ALWAYS AS (to_tsvector('simple', "content")) STORED;
CREATE INDEX "Article_searchAll_idx" ON "Article" USING GIN ("searchAll");
CREATE INDEX "Article_searchContent_idx" ON "Article" USING GIN ("searchContent");

-- Every scenario has a knowledge-base state row (new ones get it when created): existing ones here.
INSERT INTO "KnowledgeBaseState" ("scenarioId", "trainedArticles", "changeCount", "updatedAt")
SELECT "id", 0, 0, CURRENT_TIMESTAMP FROM "Scenario";
