import type { ImportKind, ImportProcessor } from "./kb-import-types.ts";
import { linksProcessor, sitemapProcessor, websiteProcessor } from "./kb-web.ts";
import { youtubeProcessor } from "./kb-youtube.ts";
import { intercomImportProcessor, intercomRefreshProcessor } from "./kb-intercom.ts";

/** Which processor runs each kind of import. */
export const IMPORT_PROCESSORS: Record<ImportKind, ImportProcessor<any>> = {
  website: websiteProcessor,
  sitemap: sitemapProcessor,
  links: linksProcessor,
  youtube: youtubeProcessor,
  intercom_import: intercomImportProcessor,
  intercom_refresh: intercomRefreshProcessor,
};
