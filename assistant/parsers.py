"""The API's JSON parser: DRF's, with input nested too deeply for Python's decoder
refused as a 400 instead of failing the request, and NUL characters refused in every
key and text (PostgreSQL stores none, in text or in JSON; DRF's text fields refuse them
already, this covers the JSON objects such as ``meta``, ``options`` and preferences)."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


def has_nul(value) -> bool:
    """Whether any key or text in ``value`` (parsed JSON) holds a NUL; without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        if has_nul(data):
            raise ParseError("JSON parse error - text may not contain NUL characters (\\u0000).")
        return data
