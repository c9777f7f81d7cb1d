"""The README's ten-line verification accepts what the sender signs and refuses the rest."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from services.webhooks import signing


def _readme_verify() -> Any:
    text = (Path(settings.BASE_DIR) / "README.md").read_text()
    (snippet,) = [
        block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify" in block
    ]
    assert len(snippet.strip().splitlines()) <= 11
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    return namespace["verify"]


def test_the_readme_snippet_verifies_a_delivery_signature():
    verify = _readme_verify()
    secret, other = signing.secret_new(), signing.secret_new()
    body = b'{"event":"process.completed","id":"evt_x"}'
    header = signing.signature_header(
        secrets_in_force=[secret, other], body=body, timestamp=int(time.time())
    )
    assert verify(secret, header, body)
    assert verify(other, header, body)  # during a roll's grace: either secret
    assert not verify(signing.secret_new(), header, body)
    assert not verify(secret, header, body + b" ")
    stale = signing.signature_header(
        secrets_in_force=[secret], body=body, timestamp=int(time.time()) - 3600
    )
    assert not verify(secret, stale, body)
    assert not verify(secret, "v1=abc", body)
