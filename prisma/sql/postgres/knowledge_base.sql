-- Full-text indexes of articles: all searchable text, and content alone (with_title_url_and_tags=false).
-- Queries must use exactly these expressions for the planner to use the indexes.
CREATE INDEX "Article_search_all_idx" ON "Article" USING GIN (
    to_tsvector('simple', coalesce("title", '') || ' ' || "content" || ' ' || coalesce("url", '') || ' ' || "tagsText")
);
CREATE INDEX "Article_search_content_idx" ON "Article" USING GIN (to_tsvector('simple', "content"));
