"""The conversation admin: the transcript as the user saw it, read-only pages, filters and
search, streamed exports and the retry of failed messages."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import Client

from tests.forms.test_forms import PIN, valid
from tests.ops.story import IDENTITY, UNREACHABLE, Story
from webclient import exports, forms
from webclient.models import Conversation, Message

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/webclient/conversation/"


def transcript(client: Client, story: Story, frame: bool = False) -> Any:
    suffix = "frame/" if frame else ""
    return client.get(f"{CHANGELIST}{story.conversation.pk}/transcript/{suffix}")


def test_the_transcript_frame_shows_each_message_as_rendered_for_the_widget(
    superuser_client: Client, story: Story
) -> None:
    page = transcript(superuser_client, story, frame=True)
    body = page.content.decode()
    assert page.status_code == 200
    assert story.carousel.html in body  # the carousel itself, not its card titles
    assert "webclient/chat.css" in body and "webclient/render.css" in body
    assert f'class="kc-msg kc-role-bot kc-kind-{story.carousel.kind}"' in body


def test_the_transcript_shows_roles_times_and_failure_reasons(
    superuser_client: Client, story: Story
) -> None:
    body = transcript(superuser_client, story, frame=True).content.decode()
    for role in ("user", "bot", "system"):
        assert f'<span class="kc-meta-role">{role}</span>' in body
    stamp = story.failed.created_at.strftime("%Y-%m-%d %H:%M:%S")
    assert stamp in body
    assert f"Failed: {UNREACHABLE}" in body
    assert "kc-state-failed" in body  # the widget's mark on the message that failed
    outer = transcript(superuser_client, story).content.decode()
    assert f"#{story.failed.pk}</a>" in outer and UNREACHABLE in outer


def test_a_form_submission_shows_its_values_with_the_password_masked(
    superuser_client: Client, story: Story
) -> None:
    body = transcript(superuser_client, story, frame=True).content.decode()
    assert valid()["fct-5a0cf4f1-2b8e-4d55-9d3c-000000000003"] in body  # the full name
    assert "••••••" in body
    assert not shows_pin(body)


def test_the_transcript_runs_no_script_and_is_isolated_from_the_admin(
    superuser_client: Client, story: Story
) -> None:
    outer = transcript(superuser_client, story).content.decode()
    assert 'sandbox=""' in outer
    frame = transcript(superuser_client, story, frame=True)
    policy = frame["Content-Security-Policy"]
    assert "script-src 'none'" in policy
    assert "sandbox" in policy.split("; ")
    assert "frame-ancestors 'self'" in policy
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    assert "<script" not in frame.content.decode()


def test_only_staff_see_a_transcript(client: Client, story: Story) -> None:
    answer = client.get(f"{CHANGELIST}{story.conversation.pk}/transcript/frame/")
    assert answer.status_code == 302
    assert "/admin/login/" in answer["Location"]


def test_conversations_and_messages_cannot_be_added_or_changed(
    superuser_client: Client, story: Story
) -> None:
    listing = superuser_client.get(CHANGELIST).content.decode()
    assert "Add conversation" not in listing
    page = superuser_client.get(f"{CHANGELIST}{story.conversation.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    answer = superuser_client.post(
        f"{CHANGELIST}{story.conversation.pk}/change/", {"identity": "mallory"}
    )
    assert answer.status_code == 403
    message_page = superuser_client.get(f"/admin/webclient/message/{story.failed.pk}/change/")
    assert 'name="_save"' not in message_page.content.decode()
    assert superuser_client.get("/admin/webclient/message/add/").status_code == 403
    story.conversation.refresh_from_db()
    assert story.conversation.identity == IDENTITY


def test_a_conversation_can_still_be_deleted(superuser_client: Client, story: Story) -> None:
    answer = superuser_client.post(f"{CHANGELIST}{story.conversation.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    assert not Conversation.objects.filter(pk=story.conversation.pk).exists()


def listed(client: Client, query: str) -> set[str]:
    answer = client.get(f"{CHANGELIST}?{query}")
    assert answer.status_code == 200
    return {str(c) for c in answer.context["cl"].result_list}


@pytest.fixture
def quiet(story: Story) -> Conversation:
    """Another conversation of the same bot: nothing failed, nothing pending."""
    return Conversation.objects.create(bot=story.bot, identity="bob@example.com")


def test_conversations_are_found_by_failed_messages_and_pending(
    superuser_client: Client, story: Story, quiet: Conversation
) -> None:
    mine, other = str(story.conversation), str(quiet)
    assert listed(superuser_client, "failed=yes") == {mine}
    assert listed(superuser_client, "failed=no") == {other}
    assert listed(superuser_client, "pending__exact=1") == {mine}
    assert listed(superuser_client, f"bot__id__exact={story.bot.pk}") == {mine, other}
    day = story.conversation.last_activity_at
    on_the_day = "&".join(
        f"last_activity_at__{part}={getattr(day, part)}" for part in ("year", "month", "day")
    )
    assert listed(superuser_client, on_the_day) == {mine, other}
    assert listed(superuser_client, f"last_activity_at__year={day.year - 1}") == set()


def test_conversations_are_found_by_identity_and_by_message_text(
    superuser_client: Client, story: Story, quiet: Conversation
) -> None:
    assert listed(superuser_client, "q=bob@") == {str(quiet)}
    assert listed(superuser_client, "q=are+you+there") == {str(story.conversation)}


def shows_pin(text: str) -> bool:
    """Whether the submitted PIN appears as a number of its own (its digits may well occur
    inside a timestamp or an id)."""
    return re.search(rf"(?<!\d){re.escape(valid()[PIN])}(?!\d)", text) is not None


def export(client: Client, action: str, *conversations: Conversation) -> tuple[Any, bytes]:
    answer = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [c.pk for c in conversations]},
    )
    assert answer.status_code == 200
    assert isinstance(answer, StreamingHttpResponse)
    return answer, b"".join(answer.streaming_content)


def test_export_json_streams_the_selected_conversations_with_their_messages(
    superuser_client: Client, story: Story, quiet: Conversation
) -> None:
    answer, raw = export(superuser_client, "export_json", story.conversation)
    assert "attachment" in answer["Content-Disposition"]
    exported = json.loads(raw)
    assert [c["identity"] for c in exported] == [IDENTITY]
    messages = exported[0]["messages"]
    assert [m["id"] for m in messages] == list(
        story.conversation.messages.order_by("id").values_list("id", flat=True)
    )
    failed = next(m for m in messages if m["id"] == story.failed.pk)
    assert failed["status"] == "failed" and failed["failureReason"] == UNREACHABLE
    submission = next(m for m in messages if m["id"] == story.submission.pk)
    entries = {e["componentId"]: e["input"] for e in submission["data"]["formData"]["data"]}
    assert entries[PIN] == forms.MASK  # secret inputs as the API shows them
    assert not shows_pin(raw.decode())


def test_export_csv_has_one_row_per_message_and_defuses_formulas(
    superuser_client: Client, story: Story
) -> None:
    Message.objects.filter(pk=story.failed.pk).update(text="=HYPERLINK(1)")
    _, raw = export(superuser_client, "export_csv", story.conversation)
    rows = list(csv.DictReader(io.StringIO(raw.decode())))
    assert len(rows) == story.conversation.messages.count()
    row = next(r for r in rows if r["message"] == str(story.failed.pk))
    assert row["identity"] == IDENTITY and row["status"] == "failed"
    assert row["text"] == "'=HYPERLINK(1)"
    assert not shows_pin(raw.decode())


def test_export_csv_defuses_formulas_in_every_cell(superuser_client: Client, story: Story) -> None:
    # A caller chooses its X-Request-ID (logs.SANE_REQUEST_ID allows '-'), so the request
    # id is user input too, like the identity and the texts.
    Message.objects.filter(pk=story.failed.pk).update(
        request_id="-1-1-1-1-1", failure_reason="+SUM(1)", status="@x"
    )
    _, raw = export(superuser_client, "export_csv", story.conversation)
    for cells in csv.reader(io.StringIO(raw.decode())):
        assert not any(cell.startswith(exports.FORMULA_START) for cell in cells), cells
    rows = list(csv.DictReader(io.StringIO(raw.decode())))
    row = next(r for r in rows if r["message"] == str(story.failed.pk))
    assert row["request_id"] == "'-1-1-1-1-1"
    assert row["failure_reason"] == "'+SUM(1)" and row["status"] == "'@x"


def retry(client: Client, *messages: Message) -> Any:
    return client.post(
        "/admin/webclient/message/",
        {"action": "retry", "_selected_action": [m.pk for m in messages]},
        follow=True,
    )


def test_retry_forwards_a_failed_message_again_as_a_new_outbox_entry(
    superuser_client: Client, story: Story
) -> None:
    answer = retry(superuser_client, story.failed)
    assert "1 message(s) sent to the bot again." in answer.content.decode()
    attempt = story.conversation.messages.get(client_message_id__startswith="retry-")
    assert attempt.status == "accepted"
    assert attempt.data == story.failed.data
    assert attempt.client_message_id != story.failed.client_message_id
    assert attempt.html == ""  # the user does not see the message twice
    notice = story.conversation.messages.filter(role="system").order_by("-id").first()
    assert notice is not None and notice.html  # …but sees a system entry about it
    assert notice.data == {"refersTo": story.failed.pk, "state": "retried", "by": attempt.pk}
    story.failed.refresh_from_db()
    assert story.failed.status == "failed"  # the first attempt's record stays as it was


def test_retry_skips_messages_that_did_not_fail(superuser_client: Client, story: Story) -> None:
    before = Message.objects.count()
    answer = retry(superuser_client, story.carousel, story.submission)
    assert "2 message(s) skipped" in answer.content.decode()
    assert Message.objects.count() == before


def test_retry_needs_the_right_to_change_messages(story: Story, django_user_model: Any) -> None:
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_message"))
    client = Client()
    client.force_login(viewer)
    before = Message.objects.count()
    retry(client, story.failed)
    assert Message.objects.count() == before


def test_the_transcript_retries_a_failed_message_with_one_button(
    superuser_client: Client, story: Story
) -> None:
    page = transcript(superuser_client, story).content.decode()
    button = f'data-kc-retry="{story.failed.pk}"'
    assert button in page
    url = f"{CHANGELIST}{story.conversation.pk}/retry/{story.failed.pk}/"
    assert superuser_client.get(url).status_code == 405
    answer = superuser_client.post(url, follow=True)
    page = answer.content.decode()
    assert answer.redirect_chain[-1][0].endswith(f"/{story.conversation.pk}/transcript/")
    assert "1 message(s) sent to the bot again." in page
    assert "Sent to the bot again." in page and button not in page
    attempt = story.conversation.messages.get(client_message_id__startswith="retry-")
    assert (attempt.status, attempt.data) == ("accepted", story.failed.data)


def test_the_transcripts_retry_needs_the_right_to_change_messages(
    story: Story, django_user_model: Any
) -> None:
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_message", "view_conversation"])
    )
    client = Client()
    client.force_login(viewer)
    assert "data-kc-retry" not in transcript(client, story).content.decode()
    before = Message.objects.count()
    url = f"{CHANGELIST}{story.conversation.pk}/retry/{story.failed.pk}/"
    assert client.post(url).status_code == 403
    assert Message.objects.count() == before


def test_the_messages_list_shows_the_newest_first(superuser_client: Client, story: Story) -> None:
    answer = superuser_client.get("/admin/webclient/message/")
    shown = [m.pk for m in answer.context["cl"].result_list]
    assert shown == sorted(shown, reverse=True) and len(shown) > 1


def test_a_conversation_not_pending_reads_no_rather_than_a_red_cross(
    superuser_client: Client, story: Story
) -> None:
    Conversation.objects.filter(pk=story.conversation.pk).update(pending=False)
    page = superuser_client.get(CHANGELIST).content.decode()
    row = page[page.index("field-pending_shown") :].split("</td>")[0]
    assert row.endswith(">no") and "icon-no" not in row
