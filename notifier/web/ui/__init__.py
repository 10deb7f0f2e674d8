"""The reviewer web app: server-rendered pages (Jinja2, autoescaped) over the same service
layer as the CLI and the API. Login with a session cookie (HttpOnly, SameSite=Lax), a CSRF
token on every form, roles checked on every action.

- ``session.py``: who is logged in, CSRF, role checks
- ``i18n.py``: the page texts in zh-CN and en, chosen per user
- ``render.py``: the Jinja2 environment for pages and its filters
- ``auth.py``: login and logout; ``queue.py``: the approval queue
"""
