"""OWSLib as a real client of zonetrack's editing (issue 12): create, replace and delete a
zone through owslib.ogcapi.features.Features, checking each answer and the data after it.

Run by tests/e2e/edit.rs: python edit.py SERVER_URL EDITOR TOKEN
"""

import sys

from owslib.ogcapi.features import Features
from owslib.util import Authentication

url, editor, token = sys.argv[1:4]
zones = "zones"


def fail(what):
    print(f"FAIL: {what}", file=sys.stderr)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)


def count(client):
    return client.collection_items(zones, limit=1)["numberMatched"]


# OWSLib's Authentication gives requests HTTP Basic: the editor's name and token.
editor_client = Features(url, auth=Authentication(editor, token))
before = count(editor_client)
template = editor_client.collection_items(zones, limit=1)["features"][0]

zone = {
    "type": "Feature",
    "geometry": {
        "type": "MultiPolygon",
        "coordinates": [[[[38.5, 35.5], [38.7, 35.5], [38.7, 35.7], [38.5, 35.7], [38.5, 35.5]]]],
    },
    "properties": {
        "key": "owslib_test_zone",
        "name": "OWSLib test zone",
        "description": "Created by tests/owslib/edit.py.",
        "actor": template["properties"]["actor"],
        "kind": "control",
        "valid_from": "2018-02-01",
        "valid_to": "2018-02-28",
        "confidence": "low",
        "method": "hand_drawn",
        "sources": [{"title": "OWSLib test", "publisher": "zonetrack tests"}],
    },
}

# Without credentials the write is refused (OWSLib raises on any error status) and nothing
# is written.
try:
    Features(url).collection_item_create(zones, zone)
    fail("a create without credentials was accepted")
except RuntimeError as e:
    check("Unauthorized" in str(e), f"the refusal names the reason: {e}")
check(count(editor_client) == before, "a refused create changed the count")

# Create: True, and the new feature's URL in Location (QGIS reads the id from it too).
check(editor_client.collection_item_create(zones, zone) is True, "create returns True")
location = editor_client.response_headers.get("Location", "")
check("/items/" in location, f"Location names the new feature: {location!r}")
fid = location.rsplit("/items/", 1)[1]
got = editor_client.collection_item(zones, fid)
check(got["properties"]["key"] == "owslib_test_zone", f"created: {got['properties']}")
check(got["properties"]["name"] == "OWSLib test zone", "the name was kept")
check(got["geometry"] == zone["geometry"], f"the geometry was kept: {got['geometry']}")
check(count(editor_client) == before + 1, "one zone more")

# Replace (PUT) with the feature as read back, edited: OWSLib sends the dict as JSON.
replacement = dict(got)
replacement["properties"] = dict(got["properties"], name="OWSLib test zone, renamed",
                                 valid_to="2018-03-31", confidence="medium")
replacement["geometry"] = {
    "type": "MultiPolygon",
    "coordinates": [[[[38.6, 35.5], [38.8, 35.5], [38.8, 35.7], [38.6, 35.7], [38.6, 35.5]]]],
}
check(editor_client.collection_item_update(zones, fid, replacement) is True, "update returns True")
got = editor_client.collection_item(zones, fid)
check(got["properties"]["name"] == "OWSLib test zone, renamed", f"replaced: {got['properties']}")
check(got["properties"]["valid_to"] == "2018-03-31", "valid_to replaced")
check(got["properties"]["confidence"] == "medium", "confidence replaced")
check(got["geometry"] == replacement["geometry"], "geometry replaced")
check(count(editor_client) == before + 1, "a replace adds no zone")

# Delete, here with the token as a Bearer header (OWSLib's headers argument).
bearer_client = Features(url, headers={"Authorization": f"Bearer {token}"})
check(bearer_client.collection_item_delete(zones, fid) is True, "delete returns True")
try:
    editor_client.collection_item(zones, fid)
    fail("the deleted zone is still served")
except RuntimeError:
    pass
check(count(editor_client) == before, "the zone count is back")

print("owslib: created, replaced and deleted zone", fid)
