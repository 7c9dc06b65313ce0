"""Optimistic concurrency: etags on save and delete, first-write and
last-write, with Dapr's 409 ERR_STATE_SAVE / ERR_STATE_DELETE on a mismatch."""

from __future__ import annotations

from tests.state.helpers import assert_error, etag_of, get, new_key, save

FIRST_WRITE = {"concurrency": "first-write"}


def test_update_with_the_right_etag(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1})
    r = save(http, store, {"key": key, "value": 2, "etag": etag_of(http, store, key)})
    assert r.status_code == 204
    assert get(http, store, key).json() == 2


def test_update_with_a_wrong_etag_is_409_and_keeps_the_value(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1})
    r = save(http, store, {"key": key, "value": 2, "etag": "not-the-etag"})
    assert_error(r, 409, "ERR_STATE_SAVE", "possible etag mismatch", store)
    assert get(http, store, key).json() == 1


def test_stale_etag_is_409(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1})
    stale = etag_of(http, store, key)
    save(http, store, {"key": key, "value": 2})
    r = save(http, store, {"key": key, "value": 3, "etag": stale})
    assert_error(r, 409, "ERR_STATE_SAVE")


def test_etag_on_a_missing_key_is_409(http, store):
    r = save(http, store, {"key": new_key(), "value": 1, "etag": "anything"})
    assert_error(r, 409, "ERR_STATE_SAVE")


def test_etag_is_checked_even_with_last_write(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1})
    r = save(http, store, {"key": key, "value": 2, "etag": "wrong",
                           "options": {"concurrency": "last-write"}})
    assert_error(r, 409, "ERR_STATE_SAVE")


def test_first_write_without_etag_on_a_new_key_is_204(http, store):
    key = new_key()
    assert save(http, store, {"key": key, "value": 1, "options": FIRST_WRITE}).status_code == 204
    assert get(http, store, key).json() == 1


def test_first_write_without_etag_on_an_existing_key_is_409(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1})
    r = save(http, store, {"key": key, "value": 2, "options": FIRST_WRITE})
    assert_error(r, 409, "ERR_STATE_SAVE")
    assert get(http, store, key).json() == 1


def test_first_write_with_the_right_etag_updates(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1})
    etag = etag_of(http, store, key)
    r = save(http, store, {"key": key, "value": 2, "etag": etag, "options": FIRST_WRITE})
    assert r.status_code == 204
    assert get(http, store, key).json() == 2


def test_delete_with_a_wrong_if_match_is_409_and_keeps_the_item(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1})
    r = http.delete(f"/v1.0/state/{store}/{key}", headers={"If-Match": "wrong"})
    assert_error(r, 409, "ERR_STATE_DELETE", "possible etag mismatch", key)
    assert get(http, store, key).status_code == 200


def test_delete_with_the_right_if_match_is_204(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1})
    r = http.delete(f"/v1.0/state/{store}/{key}",
                    headers={"If-Match": etag_of(http, store, key)})
    assert r.status_code == 204
    assert get(http, store, key).status_code == 204


def test_delete_with_if_match_on_a_missing_key_is_409(http, store):
    r = http.delete(f"/v1.0/state/{store}/{new_key()}", headers={"If-Match": "x"})
    assert_error(r, 409, "ERR_STATE_DELETE")


def test_empty_if_match_means_no_etag(http, store):
    key = new_key()
    save(http, store, {"key": key, "value": 1})
    assert http.delete(f"/v1.0/state/{store}/{key}", headers={"If-Match": ""}).status_code == 204


def test_bulk_save_tries_every_item_and_reports_the_mismatch(http, store):
    good, taken = new_key(), new_key()
    save(http, store, {"key": taken, "value": "old"})
    r = save(http, store, {"key": taken, "value": "new", "etag": "wrong"},
             {"key": good, "value": "saved"})
    assert_error(r, 409, "ERR_STATE_SAVE")
    # Like Dapr's BulkSet, items are independent: the good one is saved.
    assert get(http, store, good).json() == "saved"
    assert get(http, store, taken).json() == "old"
