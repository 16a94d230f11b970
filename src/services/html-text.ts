import * as cheerio from "cheerio";
import type { AnyNode, Element } from "domhandler";
import { validationError } from "../errors.ts";

// HTML → article text for every import that reads HTML (web pages, Intercom bodies). The text
// keeps the document's paragraphs: each block element (paragraph, heading, list item, table row…)
// becomes its own paragraph, separated by a blank line; runs of whitespace inside one collapse.

export interface HtmlText {
  /** <title>, else the first <h1>, else "". */
  title: string;
  /** Paragraphs separated by blank lines; "" when the selector matched nothing. */
  text: string;
  /** Every http(s) link of the document, absolute (against baseUrl and <base href>), without fragment, deduplicated. */
  links: string[];
  /** <html lang>, when there is one. */
  lang: string | null;
}

const DROP = "script, style, noscript, template, svg, canvas, iframe, object, embed, head, form, button, select, input, textarea";
/** Page furniture left out when no selector says what the content is. */
const FURNITURE = "nav, header, footer, aside, [role=navigation], [role=banner], [role=contentinfo], [aria-hidden=true]";
const BLOCK = new Set([
  "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd",
  "blockquote", "pre", "table", "thead", "tbody", "tfoot", "tr", "figure", "figcaption", "address", "details", "summary",
  "hr", "header", "footer", "aside", "nav", "caption", "fieldset", "legend",
]);
const CELL = new Set(["td", "th"]);

/** A CSS selector cheerio can use, or 422 naming the field. */
export function checkSelector(selector: string, field: string): string {
  const s = selector.trim();
  if (!s) throw validationError(`${field} must not be empty`, field);
  if (s.length > 500) throw validationError(`${field} must be at most 500 characters`, field);
  try {
    cheerio.load("<p></p>")(s);
  } catch (err) {
    throw validationError(`${field} is not a valid CSS selector: ${(err as Error).message}`, field);
  }
  return s;
}

export function htmlToText(html: string, options: { selector?: string | null; baseUrl?: string | null } = {}): HtmlText {
  const $ = cheerio.load(html);
  const title = clean($("head > title").first().text()) || clean($("h1").first().text());
  const lang = $("html").attr("lang")?.trim() || null;
  const links = collectLinks($, options.baseUrl ?? null);

  $(DROP).not("head").remove();
  let roots: cheerio.Cheerio<AnyNode>;
  if (options.selector) roots = $(options.selector);
  else {
    $(FURNITURE).remove();
    const main = $("main");
    const articles = $("article");
    roots = main.length ? main.first() : articles.length === 1 ? articles : $("body").length ? $("body") : $.root();
  }
  const paragraphs: string[] = [];
  roots.each((_, el) => {
    const out = new Paragraphs();
    walk(el, out);
    paragraphs.push(...out.done());
  });
  return { title, text: paragraphs.join("\n\n"), links, lang };
}

function clean(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

function collectLinks($: cheerio.CheerioAPI, baseUrl: string | null): string[] {
  let base = baseUrl;
  const declared = $("base[href]").attr("href");
  if (declared) {
    try {
      base = new URL(declared, baseUrl ?? undefined).toString();
    } catch {
      /* an unusable <base> is ignored */
    }
  }
  const seen = new Set<string>();
  $("a[href]").each((_, a) => {
    const href = $(a).attr("href")?.trim();
    if (!href || href.startsWith("#")) return;
    let url: URL;
    try {
      url = base ? new URL(href, base) : new URL(href);
    } catch {
      return;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return;
    url.hash = "";
    seen.add(url.toString());
  });
  return [...seen];
}

/** Collects inline text into the current paragraph; block boundaries close it. */
class Paragraphs {
  private readonly list: string[] = [];
  private current = "";

  text(s: string) {
    this.current += s;
  }

  /** Preformatted text keeps its lines. */
  pre(s: string) {
    this.flush();
    const body = s.replace(/\r\n?/g, "\n").replace(/^\n+|\s+$/g, "");
    if (body) this.list.push(body);
  }

  flush() {
    // A table row's last cell leaves a separator behind.
    const p = clean(this.current).replace(/\s*\|$/, "");
    if (p) this.list.push(p);
    this.current = "";
  }

  done(): string[] {
    this.flush();
    return this.list;
  }
}

function walk(node: AnyNode, out: Paragraphs): void {
  if (node.type === "text") {
    out.text((node as unknown as { data: string }).data);
    return;
  }
  if (node.type !== "tag" && node.type !== "root") return;
  const el = node as Element;
  const name = node.type === "tag" ? el.name.toLowerCase() : "";
  if (name === "br") {
    out.flush();
    return;
  }
  if (name === "pre") {
    out.pre(textOf(el));
    return;
  }
  if (name === "img") {
    const alt = el.attribs?.alt?.trim();
    if (alt) out.text(` ${alt} `);
    return;
  }
  const block = BLOCK.has(name);
  if (block) out.flush();
  if (name === "li") out.text("- ");
  for (const child of el.children ?? []) walk(child, out);
  if (CELL.has(name)) out.text(" | ");
  if (block) out.flush();
}

function textOf(node: AnyNode): string {
  if (node.type === "text") return (node as unknown as { data: string }).data;
  if (node.type === "tag" && (node as Element).name === "br") return "\n";
  return ((node as Element).children ?? []).map(textOf).join("");
}
