"""The reviewer web app: server-rendered pages (Jinja2, autoescaped) over the same service
layer as the CLI and the API. Login with a session cookie (HttpOnly, SameSite=Lax), a CSRF
token on every form, roles checked on every action.

- ``session.py``: who is logged in, CSRF, role checks
- ``render.py``: the Jinja2 environment for pages and its filters, and the viewer's words
  (notifier/words.py: one catalogue in zh-CN and en)
- ``home.py``: each role's home page; ``forms.py``: typed days and amounts; ``public.py``:
  the unsubscribe page a customer sees
- ``auth.py``: login and logout; ``queue.py``: the approval queue
"""
