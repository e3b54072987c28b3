"""OWSLib as a real client of zonetrack's editing (issue 12): create, replace and delete a
zone through owslib.ogcapi.features.Features, checking each answer and the data after it.

Run by tests/e2e/edit.rs: python edit.py SERVER_URL EDITOR TOKEN

OWSLib 0.35 keeps request headers in one module-level dict that every client shares and
updates (owslib/ogcapi/__init__.py, API.__init__: `self.headers = REQUEST_HEADERS`): a
Content-Type set by a create, or an Authorization header given to one client, goes with every
later request of every client. The steps are ordered so that each one sends what a script doing
only that step would send.
"""

import json
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
page = editor_client.collection_items(zones, limit=20)["features"]
hand_drawn = next(f for f in page if f["properties"]["rule"] is None)

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
        "actor": hand_drawn["properties"]["actor"],
        "kind": "control",
        "valid_from": "2018-02-01",
        "valid_to": "2018-02-28",
        "confidence": "low",
        "method": "hand_drawn",
        "sources": [{"title": "OWSLib test", "publisher": "zonetrack tests"}],
    },
}

# A create given JSON text goes out labelled text/xml (http_post's default): refused with a 415
# that says what to do, and nothing is written.
try:
    editor_client.collection_item_create(zones, json.dumps(zone))
    fail("a body labelled text/xml was taken")
except RuntimeError as e:
    check("UnsupportedMediaType" in str(e) and "dict" in str(e), f"the 415 says what to do: {e}")
check(count(editor_client) == before, "a refused create changed the count")

# A replace given JSON text (collection_item_update's `data: str`) goes out with no
# Content-Type at all: read as JSON.
as_text = dict(hand_drawn, properties=dict(hand_drawn["properties"], name="Renamed by OWSLib"))
check(editor_client.collection_item_update(zones, hand_drawn["id"], json.dumps(as_text)) is True,
      "update with JSON text returns True")
got = editor_client.collection_item(zones, hand_drawn["id"])
check(got["properties"]["name"] == "Renamed by OWSLib", f"replaced from text: {got['properties']}")
check(got["geometry"] == hand_drawn["geometry"], "the geometry sent back unchanged is kept")

# Without credentials the write is refused (OWSLib raises on any error status) and nothing
# is written.
try:
    Features(url).collection_item_create(zones, zone)
    fail("a create without credentials was accepted")
except RuntimeError as e:
    check("Unauthorized" in str(e), f"the refusal names the reason: {e}")
check(count(editor_client) == before, "a refused create changed the count")

# Create from a dict: True, and the new feature's URL in Location (QGIS reads the id from it).
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

# Delete, here with the token as a Bearer header (OWSLib's headers argument; last, since it
# sticks to every client from here on).
bearer_client = Features(url, headers={"Authorization": f"Bearer {token}"})
check(bearer_client.collection_item_delete(zones, fid) is True, "delete returns True")
try:
    editor_client.collection_item(zones, fid)
    fail("the deleted zone is still served")
except RuntimeError:
    pass
check(count(editor_client) == before, "the zone count is back")

print("owslib: created, replaced and deleted zone", fid)
