"""How the REST API reads input: the strict JSON parser (set as DRF's default parser) and
fields that look rows up only with text PostgreSQL can compare."""

from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from config import strictjson


class StrictJSONParser(JSONParser):
    """DRF's parser lets NaN, 1e400, NUL, lone surrogates and deep nesting through to the
    database or the stack; this one answers 400 naming where in the body the problem is."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        raw = stream.read() if stream is not None else b""
        try:
            return strictjson.loads(raw.decode(encoding))
        except UnicodeDecodeError as error:
            raise ParseError(f"JSON parse error - not valid {error.encoding}.") from None
        except strictjson.StrictJSONError as error:
            if not error.path:
                raise ParseError(f"JSON parse error - {error.message}") from None
            raise ParseError({error.path: [error.message]}) from None


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's SlugRelatedField puts any value in the query: a NUL or a list there is a
    DataError (500) on PostgreSQL. Only plain storable text is looked up."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        reason = strictjson.unstorable_reason(data)
        if reason:
            raise serializers.ValidationError(reason, code="invalid")
        return super().to_internal_value(data)
