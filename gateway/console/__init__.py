"""The web console: pages for staff (アップロード on the internet side, 受け取り on the LGWAN
side), served by the same FastAPI apps as the HTTP API (``gateway/intake/http_api.py``).

Modules: ``users`` (accounts, Argon2id), ``sessions`` (server-side sessions), ``web`` (the
session, CSRF and security-header plumbing every page uses), ``pages`` (the routes),
``transfers`` (what a person may see of a transfer, in plain words), ``apidocs`` (/docs served
from the package), ``i18n`` (the pages' own words in Japanese and English); templates and static
files ship in the package (nothing is loaded from outside: the networks have no internet).
"""
