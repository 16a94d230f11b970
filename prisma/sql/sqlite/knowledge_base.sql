-- Full-text index of articles (FTS5, external content = the Article table), kept current by triggers.
-- Accents are kept (remove_diacritics 0), as PostgreSQL's "simple" configuration keeps them: both
-- databases match the same words.
CREATE VIRTUAL TABLE "ArticleSearch" USING fts5(
    "title", "content", "url", "tagsText",
    content='Article', content_rowid='id', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER "Article_search_ai" AFTER INSERT ON "Article" BEGIN
    INSERT INTO "ArticleSearch"(rowid, "title", "content", "url", "tagsText")
    VALUES (new."id", new."title", new."content", new."url", new."tagsText");
END;
CREATE TRIGGER "Article_search_ad" AFTER DELETE ON "Article" BEGIN
    INSERT INTO "ArticleSearch"("ArticleSearch", rowid, "title", "content", "url", "tagsText")
    VALUES ('delete', old."id", old."title", old."content", old."url", old."tagsText");
END;
CREATE TRIGGER "Article_search_au" AFTER UPDATE OF "title", "content", "url", "tagsText" ON "Article" BEGIN
    INSERT INTO "ArticleSearch"("ArticleSearch", rowid, "title", "content", "url", "tagsText")
    VALUES ('delete', old."id", old."title", old."content", old."url", old."tagsText");
    INSERT INTO "ArticleSearch"(rowid, "title", "content", "url", "tagsText")
    VALUES (new."id", new."title", new."content", new."url", new."tagsText");
END;

-- Every scenario has a knowledge-base state row (new ones get it when created): existing ones here.
INSERT INTO "KnowledgeBaseState" ("scenarioId", "trainedArticles", "changeCount", "updatedAt")
SELECT "id", 0, 0, CURRENT_TIMESTAMP FROM "Scenario";
