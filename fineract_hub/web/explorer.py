"""The GraphiQL page served at ``GET /graphql``.

GraphiQL and React load from a public CDN at pinned versions: the hub ships no JavaScript, and an
operator who cannot reach the CDN still has ``POST /graphql`` and Hasura's console. The page posts
to the same origin's ``/graphql``; an API key goes in GraphiQL's Headers tab as
``{"Authorization": "Bearer <key>"}``.
"""

from __future__ import annotations

import html
import json

GRAPHIQL_VERSION = "3.8.3"
REACT_VERSION = "18.3.1"

_DEFAULT_QUERY = """# fineract-hub GraphQL explorer.
# Put your API key in the Headers tab: {"Authorization": "Bearer <key>"}
query Webhooks {
  getWebhooks(limit: 10) {
    total
    webhooks { id name eventType url isActive }
  }
}
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="https://unpkg.com/graphiql@{graphiql}/graphiql.min.css">
  <script crossorigin src="https://unpkg.com/react@{react}/umd/react.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/react-dom@{react}/umd/react-dom.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/graphiql@{graphiql}/graphiql.min.js"></script>
</head>
<body>
  <div id="graphiql">Loading GraphiQL&hellip;</div>
  <script>
    const fetcher = GraphiQL.createFetcher({{ url: {endpoint} }});
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher,
        defaultQuery: {default_query},
        defaultEditorToolsVisibility: "headers",
        shouldPersistHeaders: false,
      }})
    );
  </script>
</body>
</html>
"""


def _js_string(value: str) -> str:
    # json.dumps gives a valid JS string literal; escaping "<" keeps "</script>" out of the page.
    return json.dumps(value).replace("<", "\\u003c")


def explorer_html(endpoint: str = "/graphql", title: str = "fineract-hub GraphQL") -> str:
    """The GraphiQL page; ``endpoint`` is where its queries are POSTed."""
    return _PAGE.format(
        title=html.escape(title),
        graphiql=GRAPHIQL_VERSION,
        react=REACT_VERSION,
        endpoint=_js_string(endpoint),
        default_query=_js_string(_DEFAULT_QUERY),
    )
