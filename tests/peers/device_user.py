#!/usr/bin/env python3
"""The user's side of a device login (RFC 8628) at oidc-provider, done with an HTTP client:

    device_user.py VERIFICATION_URI USER_CODE [--deny]

Opens the verification page (keeping its cookies), fills the user code form with the page's xsrf
token, then submits the confirmation form (Continue, or Abort with --deny). Login and consent are
approved by tests/peers/oidc_provider.mjs itself. Prints the final page's <title> and exits 0 when
it is the one expected ("Sign-in Success", or with --deny a page that is not), else 1.
"""
import http.cookiejar
import sys
import urllib.parse
import urllib.request
from html.parser import HTMLParser


class Forms(HTMLParser):
    """The forms of a page: id -> (action, {hidden field: value}), and the page title."""

    def __init__(self):
        super().__init__()
        self.forms, self.current, self.title, self.in_title = {}, None, "", False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.current = attrs.get("id")
            self.forms[self.current] = (attrs.get("action"), {})
        elif tag == "input" and self.current and attrs.get("type") == "hidden":
            self.forms[self.current][1][attrs["name"]] = attrs.get("value", "")
        elif tag == "title":
            self.in_title = True

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "title":
            self.in_title = False

    def handle_data(self, data):
        if self.in_title:
            self.title += data


def page(opener, url, fields=None):
    data = urllib.parse.urlencode(fields).encode() if fields is not None else None
    with opener.open(url, data=data, timeout=30) as response:
        parser = Forms()
        parser.feed(response.read().decode())
        return response.geturl(), parser


def main():
    uri, code = sys.argv[1], sys.argv[2]
    deny = "--deny" in sys.argv[3:]
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    url, forms = page(opener, uri)
    action, fields = forms.forms["op.deviceInputForm"]
    url, forms = page(opener, urllib.parse.urljoin(url, action), {**fields, "user_code": code})
    action, fields = forms.forms["op.deviceConfirmForm"]
    if deny:
        fields = {**fields, "abort": "yes"}
    url, forms = page(opener, urllib.parse.urljoin(url, action), fields)
    title = forms.title.strip()
    print(title, flush=True)
    success = title == "Sign-in Success"
    sys.exit(0 if success != deny else 1)


if __name__ == "__main__":
    main()
