"""Celery: the workers for work off the order path (snapshots, reconciliation, the day's end).

Broker and results on the Valkey/Redis already running, under the deployment's bus prefix.
Nothing on the order path waits for a task. Schedules are settings (CELERY_BEAT_SCHEDULE).
Tasks load what they need by id and call a service: no logic in a task."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms_project.settings")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # each installed app's tasks.py
app.autodiscover_tasks(["oms_project"])
