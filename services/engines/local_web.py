"""A fetched web page's main text and the fields an extraction description asks for, read
locally (title, headings, links, emails, prices, dates, tables, meta tags, JSON-LD, labelled
values). Fetching the page safely is local_fetch's."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

from services.engines import nlp
from services.engines.local_fetch import Page
from services.engines.nlp import sentences

# --- extraction -------------------------------------------------------------------------------


def soup_of(html: str) -> BeautifulSoup:
    try:
        return BeautifulSoup(html, "lxml")
    except Exception:  # lxml missing or choking: the pure-Python parser always works
        return BeautifulSoup(html, "html.parser")


def _clean(text: str) -> str:
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" *\n[ \n]*\n *", "\n\n", text)
    return re.sub(r" *\n *", "\n", text).strip()


def page_title(soup: BeautifulSoup) -> str | None:
    """<title>, else og:title, else the first <h1>."""
    heading = soup.find("h1")
    for candidate in (
        soup.title.get_text() if soup.title else None,
        _meta(soup, "og:title"),
        heading.get_text() if isinstance(heading, Tag) else None,
    ):
        if candidate and candidate.strip():
            return " ".join(candidate.split())
    return None


def _meta(soup: BeautifulSoup, *names: str) -> str | None:
    for name in names:
        tag = soup.find("meta", attrs={"name": re.compile(f"^{re.escape(name)}$", re.I)})
        tag = tag or soup.find("meta", attrs={"property": re.compile(f"^{re.escape(name)}$", re.I)})
        if isinstance(tag, Tag) and str(tag.get("content") or "").strip():
            return " ".join(str(tag["content"]).split())
    return None


_BOILERPLATE = ("nav", "header", "footer", "aside", "form")


def visible_text(html: str, *, boilerplate: bool = True) -> str:
    """The text a reader sees (nlp.html_to_text, the engines' one HTML-to-text path), block
    elements on lines of their own; without navigation, headers, footers, asides and forms
    when `boilerplate` is false."""
    text, _ = nlp.html_to_text(html, drop=() if boilerplate else _BOILERPLATE)
    return text


def main_content(html: str, soup: BeautifulSoup, url: str, *, text_mode: bool) -> str:
    """The main text of an HTML page (trafilatura, which drops boilerplate), as plain text,
    or as simplified HTML when `text_mode` is false; the visible text when it finds none."""
    import trafilatura

    extracted = trafilatura.extract(
        html,
        url=url,
        include_comments=False,
        include_tables=True,
        include_links=not text_mode,
        output_format="txt" if text_mode else "html",
        deduplicate=False,
    )
    if extracted and extracted.strip():
        return extracted.strip()
    text = visible_text(html, boilerplate=False)
    if text_mode:
        return text
    return "".join(f"<p>{_escape(p)}</p>" for p in text.split("\n") if p.strip())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- fields named in the extraction description ------------------------------------------------

_LEADING = re.compile(
    r"^(?:please\s+)?(?:extract|get|find|return|list|give me|scrape|pull(?: out)?|collect|grab"
    r"|identify|show(?: me)?|fetch|tell me|include|what (?:is|are))\b\s*",
    re.I,
)
_FILLER = re.compile(
    r"^(?:the|all(?: the)?|any|every|each|a|an|list of|a list of|its|their|page's|article's)\s+",
    re.I,
)
_TRAILING = re.compile(
    r"\s+(?:(?:from|on|of|in|for) (?:the |this )?(?:page|article|post|site|website|web page|"
    r"webpage|document|product|item|company|listing)|if (?:any|available|present)|mentioned"
    r"|listed|found|etc\.?|\(.*\))$",
    re.I,
)

FIELD_KINDS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(rf"^(?:{pattern})$", re.I))
    for kind, pattern in [
        ("skip", r"(?:main |full )?(?:article )?(?:content|text|body)|article|main article"),
        (
            "title",
            r"(?:page |article |post |document |main )?(?:title|headline)|titel|titre|título",
        ),
        (
            "headings",
            r"(?:h[1-6] )?headings?|headers|sub-?headings?|section (?:titles|headings)|h[1-6]s?"
            r"|überschriften|titres|encabezados",
        ),
        ("links", r"(?:all )?(?:links?|urls?|hyperlinks?|hrefs?)|liens|enlaces"),
        (
            "emails",
            r"(?:contact )?e-?mails?(?: address(?:es)?)?|e-?mail-?adressen"
            r"|adresses? e-?mail|correos?(?: electrónicos?)?",
        ),
        (
            "phones",
            r"(?:contact |tele)?phones?(?: numbers?)?|telephone(?: numbers?)?"
            r"|contact numbers?|mobile(?: numbers?)?|fax(?: numbers?)?|telefonnummern?"
            r"|numéros? de téléphone|teléfonos?",
        ),
        ("prices", r"prices?|costs?|pricing|fees?|preise?|prix|precios?"),
        (
            "dates",
            r"dates?|published(?: date)?|publication dates?|publish(?:ing)? dates?"
            r"|dates? published|posted(?: on| date)?|release dates?|datum|fechas?",
        ),
        ("images", r"images?|pictures?|photos?|img|image urls?|thumbnails?|bilder|imágenes"),
        ("description", r"(?:meta )?description|beschreibung|descripción"),
        ("summary", r"summary|abstract|excerpt|teaser|lead|zusammenfassung|résumé|resumen"),
        (
            "author",
            r"authors?|byline|writers?|journalists?|written by|autor(?:in)?|verfasser|auteur",
        ),
        ("keywords", r"keywords?|tags?|topics?|categories|schlagwörter|mots-clés|etiquetas"),
        ("language", r"language|lang|locale|sprache|langue|idioma"),
        ("tables", r"tables?"),
    ]
]
LIST_KINDS = frozenset(
    {"headings", "links", "emails", "phones", "prices", "dates", "images", "keywords", "tables"}
)


@dataclass(frozen=True)
class FieldRequest:
    name: str
    kind: str
    plural: bool


def snake_case(text: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[\W_]+", "_", text.lower()).strip("_")


def parse_description(description: str) -> list[FieldRequest]:
    """The fields a description asks for: "Extract the title, author and all email
    addresses" → title, author, email_addresses. Phrases longer than six words are ignored."""
    requests: list[FieldRequest] = []
    text = re.sub(r"\s+", " ", description.strip())
    for raw in re.split(r"[,;\n&/]|\band\b|\bas well as\b|\bplus\b|\.(?:\s|$)", text, flags=re.I):
        phrase = raw.strip(" .:?!-\"'")
        for _ in range(3):
            phrase = _LEADING.sub("", phrase).strip()
            phrase = _FILLER.sub("", phrase).strip()
            phrase = _TRAILING.sub("", phrase).strip()
        phrase = phrase.strip(" .:?!-\"'")
        if not phrase or len(phrase.split()) > 6:
            continue
        name = snake_case(phrase)
        if not name:
            continue
        kind = next((k for k, pattern in FIELD_KINDS if pattern.match(phrase)), "custom")
        if kind == "skip" or any(r.name == name for r in requests):
            continue
        last = phrase.split()[-1].lower()
        plural = last.endswith("s") and not last.endswith(("ss", "us", "is"))
        requests.append(FieldRequest(name=name, kind=kind, plural=plural))
    return requests


_EMAIL = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(
    r"(?:(?:phone|tel(?:ephone|efon)?|call|fax|mobile|mob|cell|☎|📞)\.?\s*:?\s*|(?=\+))"
    r"(\+?\(?\d[\d\s().\-/]{5,20}\d)",
    re.I,
)
_PRICE = re.compile(
    r"(?:[$€£¥₹]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD)\s?)\s?\d[\d,.'\u00a0]*(?:\d|-)"
    r"|\b\d[\d,.'\u00a0]*\d?\s?(?:[$€£¥₹]|(?:USD|EUR|GBP|CHF|euros?|dollars?)\b)",
    re.I,
)
_TEXT_DATE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}\.\d{1,2}\.\d{4}\b"
    r"|\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?"
    r"|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.? \d{1,2}"
    r"(?:st|nd|rd|th)?,? \d{4}\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)? (?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may"
    r"|jun(?:e)?|jul(?:y)?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?"
    r"|dec(?:ember)?) \d{4}\b",
    re.I,
)
_KEY_VALUE = re.compile(r"^\s*([^:\n]{1,60}?)\s*[:：]\s*(\S[^\n]{0,500})$", re.M)


def _unique(items: Iterator[Any] | list[Any], limit: int) -> list[Any]:
    out: list[Any] = []
    seen: set[str] = set()
    for item in items:
        key = json.dumps(item, sort_keys=True) if isinstance(item, dict) else str(item)
        if item and key not in seen:
            seen.add(key)
            out.append(item)
            if len(out) >= limit:
                break
    return out


def _tokens(text: str) -> tuple[str, ...]:
    words = [w for w in snake_case(text).split("_") if w and w not in {"the", "of", "a", "an"}]
    return tuple(
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words
    )


@dataclass
class Document:
    """What the field extractors read: the parsed page (HTML only), its visible text, the
    main text and the page's URL."""

    url: str
    text: str
    main: str
    soup: BeautifulSoup | None = None
    data: Any = None  # parsed JSON for application/json pages

    def key_values(self) -> Iterator[tuple[str, Any]]:
        """(key, value) pairs found on the page: JSON(-LD) keys, microdata, meta tags, <dl>
        and two-column table rows, and "Key: value" lines, best sources first."""
        if self.data is not None:
            yield from _flatten(self.data)
        soup = self.soup
        if soup is not None:
            for script in soup.find_all("script", attrs={"type": "application/ld+json"}):
                try:
                    yield from _flatten(json.loads(script.get_text() or "null"))
                except ValueError:
                    continue
            for tag in soup.find_all(itemprop=True):
                value = tag.get("content") or tag.get("datetime") or tag.get_text(" ", strip=True)
                yield str(tag["itemprop"]), str(value)
            for tag in soup.find_all("meta"):
                key = tag.get("name") or tag.get("property")
                if key and tag.get("content"):
                    yield str(key).split(":")[-1], str(tag["content"])
            for term in soup.find_all("dt"):
                value_tag = term.find_next_sibling("dd")
                if value_tag is not None:
                    yield term.get_text(" ", strip=True), value_tag.get_text(" ", strip=True)
            for row in soup.find_all("tr"):
                cells = row.find_all(["th", "td"], recursive=False)
                if len(cells) == 2:
                    yield cells[0].get_text(" ", strip=True), cells[1].get_text(" ", strip=True)
        for match in _KEY_VALUE.finditer(self.text):
            yield match.group(1), match.group(2).strip()


def _flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, (str, int, float, bool)):
                yield str(key), value
            elif isinstance(value, dict) and ("name" in value or "@value" in value):
                yield str(key), value.get("name", value.get("@value"))
                yield from _flatten(value, str(key))
            elif (
                isinstance(value, list)
                and value
                and all(isinstance(v, (str, int, float)) for v in value)
            ):
                yield str(key), value
            else:
                yield from _flatten(value, str(key))
    elif isinstance(data, list):
        for item in data[:50]:
            yield from _flatten(item, prefix)


def lookup(document: Document, name: str) -> Any:
    """The value of a field the page labels `name` (matched on its words, ignoring case,
    separators and plurals): an exact label wins over a longer or shorter one."""
    wanted = _tokens(name)
    if not wanted:
        return None
    best: tuple[int, Any] | None = None
    for key, value in document.key_values():
        have = _tokens(key)
        if not have or value in (None, ""):
            continue
        if have == wanted:
            return value
        score = 0
        if set(wanted) <= set(have) and len(have) <= len(wanted) + 2:
            score = 2
        elif set(have) <= set(wanted) and len(have) >= max(1, len(wanted) - 1):
            score = 1
        if score and (best is None or score > best[0]):
            best = (score, value)
    return best[1] if best else None


def extract_field(document: Document, request: FieldRequest) -> Any:
    """The value of one asked-for field: a list for plural list fields, else one value (or
    None when the page has none)."""
    values = _values(document, request)
    if request.kind in LIST_KINDS:
        items = values if isinstance(values, list) else ([values] if values else [])
        return items if request.plural else (items[0] if items else None)
    return values


def _values(document: Document, request: FieldRequest) -> Any:
    soup, text, kind = document.soup, document.text, request.kind
    if kind == "title":
        return page_title(soup) if soup is not None else lookup(document, "title")
    if kind == "headings":
        if soup is None:
            return []
        level = re.search(r"h([1-6])", request.name)
        names = [f"h{level.group(1)}"] if level else ["h1", "h2", "h3"]
        return _unique((" ".join(h.get_text(" ").split()) for h in soup.find_all(names)), 200)
    if kind == "links":
        if soup is None:
            return _unique(iter(re.findall(r"https?://[^\s\"'<>]+", text)), 200)
        links = []
        for anchor in soup.find_all("a", href=True):
            href = urljoin(document.url, str(anchor["href"]).strip())
            if href.startswith(("http://", "https://")):
                links.append({"text": " ".join(anchor.get_text(" ").split()), "url": href})
        return _unique(iter(links), 200)
    if kind == "emails":
        found = [m.group(0) for m in _EMAIL.finditer(text)]
        if soup is not None:
            for anchor in soup.find_all("a", href=re.compile(r"^mailto:", re.I)):
                found.append(str(anchor["href"])[7:].split("?")[0])
        return _unique((e.lower() for e in found), 100)
    if kind == "phones":
        found = []
        if soup is not None:
            for anchor in soup.find_all("a", href=re.compile(r"^tel:", re.I)):
                found.append(str(anchor["href"])[4:].strip())
        for match in _PHONE.finditer(text):
            number = match.group(1).strip()
            digits = re.sub(r"\D", "", number)
            if 7 <= len(digits) <= 15 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", number):
                found.append(" ".join(number.split()))
        return _unique(iter(found), 50)
    if kind == "prices":
        found = []
        if soup is not None:
            amount = _meta(soup, "product:price:amount", "og:price:amount")
            if amount:
                currency = _meta(soup, "product:price:currency", "og:price:currency") or ""
                found.append(f"{amount} {currency}".strip())
        found += [" ".join(m.group(0).split()) for m in _PRICE.finditer(text)]
        return _unique(iter(found), 50)
    if kind == "dates":
        found = []
        if soup is not None:
            published = _meta(
                soup, "article:published_time", "datePublished", "date", "pubdate", "dc.date"
            )
            if published:
                found.append(published)
            for tag in soup.find_all("time"):
                found.append(str(tag.get("datetime") or tag.get_text(" ", strip=True)))
        for key in ("datePublished", "dateCreated", "dateModified"):
            value = lookup(document, key) if soup is not None or document.data else None
            if isinstance(value, str):
                found.append(value)
        found += [m.group(0) for m in _TEXT_DATE.finditer(text)]
        return _unique(iter(found), 50)
    if kind == "images":
        if soup is None:
            return []
        images = []
        og_image = _meta(soup, "og:image")
        if og_image:
            images.append({"src": urljoin(document.url, og_image), "alt": ""})
        for image in soup.find_all("img"):
            src = str(image.get("src") or image.get("data-src") or "").strip()
            if src and not src.startswith("data:"):
                images.append(
                    {"src": urljoin(document.url, src), "alt": str(image.get("alt") or "")}
                )
        return _unique(iter(images), 100)
    if kind in ("description", "summary"):
        meta = (
            _meta(soup, "description", "og:description", "twitter:description")
            if soup is not None
            else None
        )
        if meta and kind == "description":
            return meta
        lead = " ".join(sentences(document.main)[:3])
        return (meta or lead or None) if kind == "summary" else (lead[:300] or None)
    if kind == "author":
        if soup is not None:
            meta = _meta(soup, "author", "article:author", "dc.creator", "twitter:creator")
            if meta:
                return meta
            for selector in ('[rel="author"]', '[itemprop="author"]', ".byline", ".author"):
                byline = soup.select_one(selector)
                if byline is not None and byline.get_text(strip=True):
                    return re.sub(r"^\s*by\s+", "", byline.get_text(" ", strip=True), flags=re.I)
        return lookup(document, "author")
    if kind == "keywords":
        if soup is not None:
            meta = _meta(soup, "keywords", "news_keywords")
            tags = [str(t.get("content")) for t in soup.find_all("meta", property="article:tag")]
            if meta:
                tags = [k.strip() for k in meta.split(",")] + tags
            return _unique(iter(tags), 100)
        value = lookup(document, request.name)
        return value if isinstance(value, list) else []
    if kind == "language":
        if soup is not None and soup.html is not None and soup.html.get("lang"):
            return str(soup.html["lang"])
        return _meta(soup, "content-language", "language") if soup is not None else None
    if kind == "tables":
        if soup is None:
            return []
        tables = []
        for table in soup.find_all("table")[:20]:
            rows = [
                [" ".join(c.get_text(" ").split()) for c in row.find_all(["th", "td"])]
                for row in table.find_all("tr")[:200]
            ]
            if any(rows):
                tables.append([r for r in rows if r])
        return tables
    value = lookup(document, request.name)
    return value


def document_for(page: Page, *, text_mode: bool) -> tuple[Document, str | None, str]:
    """The parsed page, its title and its main content (plain text, or simplified HTML for
    HTML pages when `text_mode` is false): HTML through BeautifulSoup and trafilatura, JSON
    pretty-printed, plain text as it is."""
    if page.media_type in ("text/html", "application/xhtml+xml"):
        soup = soup_of(page.text)
        main = main_content(page.text, soup, page.url, text_mode=text_mode)
        plain_main = main if text_mode else _clean(soup_of(main).get_text("\n"))
        document = Document(url=page.url, text=visible_text(page.text), main=plain_main, soup=soup)
        return document, page_title(soup), main
    if page.media_type == "application/json":
        try:
            data = json.loads(page.text)
        except ValueError:
            data = None
        if data is not None:
            pretty = json.dumps(data, indent=2, ensure_ascii=False)
            title = data.get("title") if isinstance(data, dict) else None
            document = Document(url=page.url, text=pretty, main=pretty, data=data)
            return document, (str(title) if isinstance(title, (str, int, float)) else None), pretty
    text = _clean(page.text)
    return Document(url=page.url, text=text, main=text), None, text
