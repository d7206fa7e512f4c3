#!/usr/bin/env python3
"""A small client of the takedown console's API (docs/console.md, section
"API"), with nothing but the standard library.

    console_client.py --url http://127.0.0.1:9080 --key KEY_ID --secret SECRET \\
        ips/query date_from=2024-12-16 date_to=2024-12-22 size=100

Each request is a POST of a JSON object carrying the key id, the current
time, a random nonce and the method's parameters, signed with the key's secret: the header
``HMAC2`` is the hex HMAC-SHA256 of the exact body bytes sent. Parameters
are NAME=VALUE; a value that is a whole number is sent as a number. The
answer is printed (JSON, or a report's CSV); an error answer is printed on
stderr with its status and the client exits 1. The key and secret may come
from the environment instead (TAKEDOWN_API_KEY, TAKEDOWN_API_SECRET), which
keeps the secret out of the process list.
"""

import argparse
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request


def call(url, key, secret, method, params, timeout=60):
    """(status, content type, body bytes) of one signed request."""
    # the nonce makes each request's signature new: the server accepts a signature once
    body = json.dumps({"apikey": key, "timestamp": int(time.time()), "nonce": secrets.token_hex(8),
                       **params}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{url.rstrip('/')}/api/{method}", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "HMAC2": signature})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def parse_params(pairs):
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"console_client: {pair!r} is not NAME=VALUE")
        params[name] = int(value) if value.isdigit() else value
    return params


def main(argv=None):
    p = argparse.ArgumentParser(description="Call a method of the takedown console's API.")
    p.add_argument("--url", required=True, help="the console, e.g. http://127.0.0.1:9080")
    p.add_argument("--key", default=os.environ.get("TAKEDOWN_API_KEY"), help="the key id")
    p.add_argument("--secret", default=os.environ.get("TAKEDOWN_API_SECRET"), help="the key's secret")
    p.add_argument("method", help="key/info, reports/list, reports/download, ips/query, ...")
    p.add_argument("params", nargs="*", metavar="NAME=VALUE")
    a = p.parse_args(argv)
    if not a.key or not a.secret:
        p.error("--key and --secret (or TAKEDOWN_API_KEY and TAKEDOWN_API_SECRET) are required")
    try:
        status, ctype, body = call(a.url, a.key, a.secret, a.method, parse_params(a.params))
    except OSError as e:
        print(f"console_client: {a.url}: {getattr(e, 'reason', e)}", file=sys.stderr)
        return 1
    if status != 200:
        try:
            message = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            message = body.decode(errors="replace").strip()
        print(f"console_client: {status}: {message}", file=sys.stderr)
        return 1
    if ctype.startswith("application/json"):
        print(json.dumps(json.loads(body), indent=2))
    else:
        sys.stdout.write(body.decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
