"""The artifact page names `waiting` (DESIGN §12) like the other statuses: a run or step that
was waiting for a person when its content was written reads "Waiting", not a raw value."""

from __future__ import annotations

from bot.web.pages import render_artifact_html
from bot.web.present import status
from tests.support.artifact_data import URLS, make_artifact


def test_waiting_has_its_label_on_the_page() -> None:
    assert (status("waiting").label, status("WAITING").label, status("waiting").tone) == ("Waiting", "Waiting", "")
    art = make_artifact(status="waiting")
    art["steps"][1]["status"] = "waiting"
    page = render_artifact_html(art, **URLS)
    badge = '<span class="badge">Waiting</span>'
    assert page.count(badge) == 3  # the run's (header and facts) and step 2's
    assert badge in page[page.index('<span class="step-n">2</span>') :]
    assert ">waiting<" not in page
