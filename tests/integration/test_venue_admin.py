"""The Venue table as an operator edits it in admin."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client

from venues.models import Venue


def test_making_another_venue_the_default_takes_one_save_in_admin(db_ready):
    old = Venue.objects.get(default=True)
    other, _ = Venue.objects.update_or_create(name="ADMINV", defaults={"port": 7, "target_comp_id": "ADMINV"})
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    form = {
        "name": "ADMINV", "description": "", "host": "127.0.0.1", "port": "7", "sender_comp_id": "OMS",
        "target_comp_id": "ADMINV", "heartbeat_seconds": "10", "active": "on", "default": "on",
    }  # fmt: skip

    response = client.post(f"/admin/venues/venue/{other.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]  # saved, not sent back with an error
    assert list(Venue.objects.filter(default=True).values_list("name", flat=True)) == ["ADMINV"]
    old.refresh_from_db()
    assert not old.default
    listed = client.get("/admin/venues/venue/")
    assert listed.status_code == 200 and b"FIX session now" in listed.content
