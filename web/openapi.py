"""The OpenAPI 3.1 description of the JSON API, with JSON schemas of every body."""

from __future__ import annotations

from typing import Any

from search import SearchRequest

API_VERSION = "1.0.0"

_NULLABLE_STRING = {"type": ["string", "null"]}
_DATE = {
    "type": ["string", "null"],
    "format": "date",
    "description": "publication date (YYYY-MM-DD), null when unknown",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_ARTICLE_FIELDS = {
    "article_id": {"type": "string"},
    "title": {"type": "string"},
    "date": _DATE,
    "time": {
        "type": ["string", "null"],
        "pattern": "^[0-2][0-9]:[0-5][0-9]$",
        "description": "the time of day it was published (HH:MM, where its date is), null "
        "when unknown",
    },
    "source": _NULLABLE_STRING,
    "url": _NULLABLE_STRING,
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "what is wrong, in a sentence"},
            "parameter": {"type": "string", "description": "the faulty parameter, on 400"},
        },
    },
    "MatchedPassage": {
        "type": "object",
        "required": ["position", "text", "snippet", "score"],
        "properties": {
            "position": {"type": "integer", "minimum": 0},
            "text": {"type": "string"},
            "snippet": {
                "type": "string",
                "description": "the passage, HTML-escaped, with <mark> around the matches",
            },
            "score": {"type": "number"},
        },
    },
    "ArticleHit": {
        "type": "object",
        "required": [*_ARTICLE_FIELDS, "score", "passages", "duplicates"],
        "properties": {
            **_ARTICLE_FIELDS,
            "score": {"type": "number"},
            "passages": {
                "type": "array",
                "minItems": 1,
                "maxItems": 3,
                "description": "the matching passages, best first",
                "items": _ref("MatchedPassage"),
            },
            "duplicates": {
                "type": "array",
                "description": "other versions of this article (a story republished), best "
                "first, at most 20",
                "items": {
                    "type": "object",
                    "required": list(_ARTICLE_FIELDS),
                    "properties": _ARTICLE_FIELDS,
                },
            },
        },
    },
    "PassageHit": {
        "type": "object",
        "required": [*_ARTICLE_FIELDS, "position", "text", "snippet", "score"],
        "properties": {
            **_ARTICLE_FIELDS,
            "position": {"type": "integer", "minimum": 0},
            "text": {"type": "string"},
            "snippet": {"type": "string"},
            "score": {"type": "number"},
        },
    },
    "SearchResults": {
        "type": "object",
        "required": [
            "query",
            "total",
            "total_passages",
            "total_is_estimate",
            "collapsed",
            "timed_out",
            "page",
            "limit",
            "group",
            "sort",
            "took_ms",
            "suggestion",
            "notes",
            "readings",
            "timeline",
            "facets",
            "hits",
        ],
        "additionalProperties": False,
        "properties": {
            "query": {"type": "string"},
            "total": {
                "type": "integer",
                "minimum": 0,
                "description": "matching articles (group=article) or passages (group=passage)",
            },
            "total_passages": {"type": "integer", "minimum": 0},
            "collapsed": {
                "type": "integer",
                "minimum": 0,
                "description": "copies of other hits' articles (a republished story), folded "
                "into them and not counted in total (0 with collapse=false)",
            },
            "total_is_estimate": {
                "type": "boolean",
                "description": "true when total is a lower bound: the search timed out, or a "
                "cluster shard had more matches than it ranks (max_matches)",
            },
            "timed_out": {
                "type": "boolean",
                "description": "the search used its time budget; these are the results found "
                "by then",
            },
            "readings": {
                "type": "array",
                "description": "typos read as the corpus's words (short queries only)",
                "items": {
                    "type": "object",
                    "required": ["typed", "read"],
                    "properties": {"typed": {"type": "string"}, "read": {"type": "string"}},
                },
            },
            "notes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "what the search did with the query, in French: a partial "
                "match (not every word found together), a bound applied, a time-out",
            },
            "facets": {
                "type": "object",
                "description": "for each facet, its values among the matching articles, "
                "most first; each counted under every filter but its own",
                "required": ["source", "category"],
                "additionalProperties": False,
                "properties": {
                    name: {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["value", "count"],
                            "properties": {
                                "value": {"type": "string"},
                                "count": {"type": "integer", "minimum": 1},
                            },
                        },
                    }
                    for name in ("source", "category")
                },
            },
            "page": {"type": "integer", "minimum": 1, "maximum": SearchRequest.MAX_PAGE},
            "limit": {"type": "integer", "minimum": 1, "maximum": SearchRequest.MAX_LIMIT},
            "group": {"enum": list(SearchRequest.GROUPS)},
            "sort": {"enum": list(SearchRequest.SORTS)},
            "took_ms": {"type": "number", "minimum": 0},
            "suggestion": {
                **_NULLABLE_STRING,
                "description": "a corrected query worth trying, or null",
            },
            "timeline": {
                "type": "array",
                "description": "matching articles by month",
                "items": {
                    "type": "object",
                    "required": ["month", "articles"],
                    "properties": {
                        "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                        "articles": {"type": "integer", "minimum": 1},
                    },
                },
            },
            "hits": {"type": "array"},
        },
        "oneOf": [
            {
                "required": ["group"],
                "properties": {
                    "group": {"const": "article"},
                    "hits": {"items": _ref("ArticleHit")},
                },
            },
            {
                "required": ["group"],
                "properties": {
                    "group": {"const": "passage"},
                    "hits": {"items": _ref("PassageHit")},
                },
            },
        ],
    },
    "Article": {
        "type": "object",
        "required": [*_ARTICLE_FIELDS, "total_passages", "page", "pages", "passages"],
        "properties": {
            **_ARTICLE_FIELDS,
            "total_passages": {"type": "integer", "minimum": 1},
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
            "passages": {
                "type": "array",
                "description": "the passages of this page (100 a page, parameter page), in order",
                "items": {
                    "type": "object",
                    "required": ["position", "text"],
                    "properties": {
                        "position": {"type": "integer", "minimum": 0},
                        "text": {"type": "string"},
                    },
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "articles", "passages", "built_at", "kept"],
        "additionalProperties": False,
        "properties": {
            "status": {"const": "ok"},
            "articles": {"type": "integer", "minimum": 0},
            "passages": {"type": "integer", "minimum": 0},
            "built_at": {"type": "string", "format": "date-time"},
            "kept": {
                "type": "array",
                "items": {"type": "string"},
                "description": "generations a build kept beside the live one, as they hold "
                "articles it left out (the embedded index; a cluster keeps none)",
            },
        },
    },
    "Unavailable": {
        "type": "object",
        "required": ["status", "error"],
        "properties": {"status": {"const": "unavailable"}, "error": {"type": "string"}},
    },
}


_CACHE_HEADERS = {
    "ETag": {
        "description": "a weak ETag of the results: it changes with the index and the "
        "parameters, not with took_ms; send it back in If-None-Match for a 304. Absent when "
        "the search timed out",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "public, max-age=60 (no-store when the search timed out)",
        "schema": {"type": "string"},
    },
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_SEARCH_PARAMETERS = [
    _query(
        "q",
        {"type": "string"},
        "the query, in Veille's query language; empty gives no hits, unless a filter "
        "(source, category, since, until) lists its articles, newest first; past "
        f"{SearchRequest.MAX_QUERY_CHARS} characters, its beginning is searched (with a note)",
    ),
    _query(
        "page",
        {"type": "integer", "minimum": 1, "maximum": SearchRequest.MAX_PAGE, "default": 1},
        "page",
    ),
    _query(
        "limit",
        {
            "type": "integer",
            "minimum": 1,
            "maximum": SearchRequest.MAX_LIMIT,
            "default": SearchRequest.DEFAULT_LIMIT,
        },
        "hits per page",
    ),
    _query(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": SearchRequest.MAX_LIMIT},
        "another name for limit (limit wins when both are given)",
    ),
    _query(
        "group",
        {"enum": list(SearchRequest.GROUPS), "default": "article"},
        "one hit per article (with up to 3 passages, best first) or one per passage",
    ),
    _query(
        "sort",
        {"enum": list(SearchRequest.SORTS), "default": "relevance"},
        "by relevance, or by date, newest first",
    ),
    _query(
        "source",
        {"type": "array", "items": {"type": "string"}, "maxItems": SearchRequest.MAX_FILTER_VALUES},
        "only articles of these sources (repeat the parameter; case and accents aside)",
    ),
    _query(
        "category",
        {"type": "array", "items": {"type": "string"}, "maxItems": SearchRequest.MAX_FILTER_VALUES},
        "only articles of these sections (repeat the parameter)",
    ),
    _query(
        "collapse",
        {"type": "boolean", "default": True},
        "one hit per story: copies of an article (a wire story republished) are listed in "
        "its duplicates; false shows every copy",
    ),
    _query(
        "strict",
        {"type": "boolean", "default": False},
        "read the query as a feed or a saved search does: every word required as typed "
        "(no typo read as another word), however long the query, no closest matches",
    ),
    _query(
        "since",
        {"type": "string", "examples": ["2024-05", "mai 2024", "5 mai 2024"]},
        "from this date (a year, a month or a day: its first day), inclusive; ISO (2024, "
        "2024-05, 2024-05-05) or French (mai 2024, 5 mai 2024, 05/05/2024)",
    ),
    _query(
        "until",
        {"type": "string", "examples": ["2024-05", "mai 2024", "5 mai 2024"]},
        "to this date (a year, a month or a day: its last day), inclusive; ISO (2024, "
        "2024-05, 2024-05-05) or French (mai 2024, 5 mai 2024, 05/05/2024)",
    ),
]


_ARTICLE_PAGE = _query(
    "page",
    {"type": "integer", "minimum": 1, "maximum": SearchRequest.MAX_PAGE, "default": 1},
    "the page of passages (past the last: the last)",
)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the JSON API."""
    unavailable = _error("the index is not built yet, or must be rebuilt")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Veille",
            "version": API_VERSION,
            "description": "Full-text search of French news articles. Outside this API, "
            "/search.atom is the Atom feed of a search (its 50 newest articles) and "
            "/search.csv and /search.jsonl export its results (1,000 at most); they take the "
            "parameters of /api/search and carry ETags too. Answers over 1 KB are compressed "
            "when the client accepts it; CORS is allowed for the origins the site sets.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": {
            "/api/search": {
                "get": {
                    "operationId": "search",
                    "summary": "Search the articles",
                    "parameters": _SEARCH_PARAMETERS,
                    "responses": {
                        "200": _json(_ref("SearchResults"), "a page of results")
                        | {"headers": _CACHE_HEADERS},
                        "304": {
                            "description": "not modified: the request's If-None-Match holds "
                            "the ETag of these results (no body)",
                            "headers": _CACHE_HEADERS,
                        },
                        "400": _error("a parameter is invalid: the error names it"),
                        "503": unavailable,
                    },
                }
            },
            "/api/articles/{article_id}": {
                "get": {
                    "operationId": "article",
                    "summary": "An article and its passages, 100 a page",
                    "parameters": [
                        {
                            "name": "article_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        _ARTICLE_PAGE,
                    ],
                    "responses": {
                        "200": _json(_ref("Article"), "the article"),
                        "400": _error("the page is invalid: the error names it"),
                        "404": _error("no article has this id"),
                        "503": unavailable,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Whether the service can answer, and what the index holds",
                    "responses": {
                        "200": _json(_ref("Health"), "the service is up"),
                        "503": _json(_ref("Unavailable"), "the index is not usable"),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
                }
            },
        },
        "components": {"schemas": _SCHEMAS},
    }
