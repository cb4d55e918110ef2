"""The blotter's pages: `/` needs a login, `/login/` is Django's form and sends the user back to
`/`, logout is a POST; the page carries who is looking and where its assets and feed are."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.fixture
def browser(db_ready) -> Client:
    return Client(enforce_csrf_checks=True)


def page_config(html: str) -> dict:
    found = re.search(r'<script id="blotter-config" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the page carries its config"
    return json.loads(found.group(1))


def csrf_token(client: Client, path: str) -> str:
    client.get(path)
    return client.cookies["csrftoken"].value


def test_the_blotter_sends_an_anonymous_visitor_to_the_login_page(browser):
    response = browser.get("/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/"


def test_logging_in_with_the_form_lands_on_the_blotter_with_name_role_and_venues(browser):
    form = browser.get("/login/")
    assert form.status_code == 200
    assert b'name="username"' in form.content and b'name="password"' in form.content
    token = browser.cookies["csrftoken"].value
    response = browser.post("/login/", {"username": "trader", "password": "trader", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/"

    page = browser.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    config = page_config(html)
    assert (config["username"], config["role"], config["websocket"]) == ("trader", "trader", "/ws/blotter/")
    assert any(v["default"] for v in config["venues"])
    assert "/api/v1/docs/" in html  # the header keeps a way to the API docs
    assert "vendor/ag-grid-community.min.js" in html and "vendor/uPlot.iife.min.js" in html
    assert "csrftoken" in page.cookies or "csrftoken" in browser.cookies  # the REST calls send it back


def test_a_wrong_password_stays_on_the_form_with_an_error(browser):
    token = csrf_token(browser, "/login/")
    response = browser.post("/login/", {"username": "trader", "password": "nope", "csrfmiddlewaretoken": token})
    assert response.status_code == 200 and b'role="alert"' in response.content
    assert browser.get("/").status_code == 302


@pytest.mark.parametrize(("username", "role"), [("risk", "risk"), ("compliance", "compliance"), ("admin", "admin")])
def test_the_page_names_each_demo_users_role(browser, username, role):
    browser.force_login(get_user_model().objects.get(username=username))
    assert page_config(browser.get("/").content.decode())["role"] == role


def test_logout_is_a_post_and_ends_the_session(browser):
    token = csrf_token(browser, "/login/")
    browser.post("/login/", {"username": "trader", "password": "trader", "csrfmiddlewaretoken": token})
    assert browser.get("/logout/").status_code == 405  # a link cannot log anyone out
    token = browser.cookies["csrftoken"].value
    response = browser.post("/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert browser.get("/").status_code == 302
