"""The console's builtin template filters: "just now", and Markdown code spans as <code>."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from breact.console_tags import ago, inline_code


def test_under_a_minute_is_just_now_not_zero_minutes():
    assert ago(timezone.now() - timedelta(seconds=20)) == "just now"


def test_older_times_say_how_long_ago():
    assert ago(timezone.now() - timedelta(hours=3, seconds=5)) == "3\xa0hours ago"


def test_code_spans_become_code_and_the_rest_is_escaped():
    html = inline_code("Classify `content` <b>into</b> `context.allowedClasses`.")

    assert html == (
        "Classify <code>content</code> &lt;b&gt;into&lt;/b&gt; <code>context.allowedClasses</code>."
    )


def test_filters_are_builtin_in_every_template():
    rendered = Template("{{ text|inline_code }}").render(Context({"text": "use `x`"}))

    assert rendered == "use <code>x</code>"


@pytest.mark.django_db
def test_service_pages_show_no_markdown_backticks(page_client):
    html = page_client.get("/services/classifier/").content.decode()

    prose = re.sub(r"<pre.*?</pre>", "", html, flags=re.S)  # code samples may hold backticks
    assert "`" not in prose
    assert "<code>context.allowedClasses</code>" in html
