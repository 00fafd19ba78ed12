#!/usr/bin/env python3
"""Judges documents against the contracts with an established validator (jsonschema,
Draft 2020-12) plus the rules a schema cannot state, which the engine applies too:

  strict JSON: UTF-8 only, no duplicate member names, no NaN/Infinity, nesting <= 32,
               at most 64 KiB;
  context:     the Kafka key equals market_id (orders, couriers) or restaurant_id
               (profiles); event times at most 5 minutes after the record's timestamp.

  check_examples.py                 every example in examples/manifest.json; prints one
                                    JSON line per example {file, reason, field} and exits
                                    1 if any verdict differs from the manifest
  check_examples.py --validate SCHEMA FILE...
                                    schema-only verdicts for encoder output
  check_examples.py --validate-lines SCHEMA FILE
                                    the same for one document per line (NDJSON); prints a
                                    JSON line per invalid document {line, errors}
"""
import json
import pathlib
import sys

import jsonschema

HERE = pathlib.Path(__file__).resolve().parent
MAX_DEPTH = 32
MAX_BYTES = 64 * 1024
MAX_FUTURE_SKEW_MS = 300_000
IDENTIFIER_FIELDS = {"courier_id", "market_id", "restaurant_id", "order_id", "event_id"}
KEY_FIELD = {"courier_ping": "market_id", "order_event": "market_id", "restaurant_profile": "restaurant_id"}
TIME_FIELD = {"courier_ping": "event_time_ms", "order_event": "event_time_ms", "restaurant_profile": "updated_at_ms"}


class Rejected(Exception):
    def __init__(self, reason, field=None):
        super().__init__(reason)
        self.reason, self.field = reason, field


def validator(schema_name):
    schema = json.loads((HERE / f"{schema_name}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def parse_strict(data):
    if len(data) > MAX_BYTES:
        raise Rejected("document_too_large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("invalid_utf8")

    def no_duplicates(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise Rejected("duplicate_key", key)
            seen.add(key)
        return dict(pairs)

    def no_constants(name):
        raise Rejected("malformed_json")

    try:
        document = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except json.JSONDecodeError:
        raise Rejected("malformed_json")
    except RecursionError:
        raise Rejected("too_deep")
    if not isinstance(document, dict):
        raise Rejected("not_an_object")
    if depth(document) > MAX_DEPTH:
        raise Rejected("too_deep")
    return document


def depth(value):
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def reason_of(error):
    """Maps a jsonschema error to the engine's reason code and field."""
    path = list(error.absolute_path)
    field = str(path[0]) if path else None
    keyword = error.validator
    if keyword == "required":
        return "missing_field", error.message.split("'")[1]
    if keyword == "type":
        return "wrong_type", field
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems"):
        return "out_of_range", field
    if keyword == "enum":
        return "unknown_enum_value", field
    if keyword == "const":
        return "unsupported_schema_version", field
    if keyword == "uniqueItems":
        return "duplicate_value", field
    if keyword == "maxLength":
        return "string_too_long", field
    if keyword in ("minLength", "pattern"):
        return ("invalid_identifier" if field in IDENTIFIER_FIELDS else "out_of_range"), field
    return f"schema:{keyword}", field


def judge(schema_name, data, key=None, record_timestamp_ms=0):
    """(reason, field) for a refused document, (None, None) for an accepted one."""
    try:
        document = parse_strict(data)
        # Type errors first: a value of the wrong type also fails its enum or range.
        errors = sorted(validator(schema_name).iter_errors(document),
                        key=lambda e: ([str(p) for p in e.absolute_path], e.validator != "type"))
        if errors:
            raise Rejected(*reason_of(errors[0]))
        key_field = KEY_FIELD.get(schema_name)
        if key_field and key != document[key_field]:
            raise Rejected("key_mismatch", key_field)
        time_field = TIME_FIELD.get(schema_name)
        if time_field and record_timestamp_ms > 0 and document[time_field] > record_timestamp_ms + MAX_FUTURE_SKEW_MS:
            raise Rejected("event_time_in_future", time_field)
    except Rejected as rejected:
        return rejected.reason, rejected.field
    return None, None


def main(argv):
    if len(argv) == 3 and argv[0] == "--validate-lines":
        failures = 0
        check = validator(argv[1])
        with open(argv[2], "rb") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    errors = [e.message for e in check.iter_errors(parse_strict(line.rstrip(b"\n")))]
                except Rejected as rejected:
                    errors = [rejected.reason]
                if errors:
                    print(json.dumps({"line": number, "errors": errors}))
                    failures += 1
        return 1 if failures else 0
    if len(argv) >= 3 and argv[0] == "--validate":
        failures = 0
        check = validator(argv[1])
        for path in argv[2:]:
            errors = list(check.iter_errors(parse_strict(pathlib.Path(path).read_bytes())))
            print(json.dumps({"file": path, "errors": [e.message for e in errors]}))
            failures += bool(errors)
        return 1 if failures else 0
    manifest = json.loads((HERE / "examples" / "manifest.json").read_text())
    mismatches = 0
    for example in manifest:
        data = (HERE / "examples" / example["file"]).read_bytes()
        reason, field = judge(example["schema"], data, example.get("key"), example.get("record_timestamp_ms", 0))
        expect = example["expect"]
        ok = (reason is None) if expect.get("valid") else (
            reason == expect["reason"] and ("field" not in expect or field == expect["field"]))
        mismatches += not ok
        print(json.dumps({"file": example["file"], "reason": reason, "field": field, "as_expected": ok}))
    print(f"{len(manifest) - mismatches} passed, {mismatches} failed", file=sys.stderr)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
