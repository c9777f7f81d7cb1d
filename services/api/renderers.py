"""JSON responses say their charset, as the contract asks: application/json; charset=utf-8."""

from rest_framework.renderers import JSONRenderer


class Utf8JSONRenderer(JSONRenderer):
    charset = "utf-8"
