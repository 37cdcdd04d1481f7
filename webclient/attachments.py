"""Files users attach to their messages.

A file is checked before anything is stored: not empty, at most ATTACHMENT_MAX_BYTES, and of
one of ATTACHMENT_TYPES as told by its content (magic numbers; text must be UTF-8 without
control characters), never by its name or the browser's word. It is stored through Django's
storage API (STORAGES["attachments"]) under a random name, and served only through links
that carry the attachment's unguessable key and a signature that expires after
ATTACHMENT_LINK_LIFETIME seconds: the bot's platform fetches it with such a link (sent
upstream as `message.attachments`), and the widget shows it with a fresh one each time it
reads the conversation.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest
from django.urls import reverse

from webclient.errors import ApplicationError, Kind
from webclient.models import Attachment, Bot, Conversation

_SIGNER = signing.TimestampSigner(salt="webclient.attachment")
# Most files one message carries.
MAX_PER_MESSAGE = 5
# Images the widget shows as thumbnails (the others as download links).
IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "txt",
}
_TEXT_CONTROLS = frozenset(range(32)) - {9, 10, 12, 13}


def _is_text(content: bytes) -> bool:
    if any(byte in _TEXT_CONTROLS for byte in content):
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def sniff(content: bytes) -> str | None:
    """The content type the bytes are, among those we know, or None."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if _is_text(content):
        return "text/plain"
    return None


def _clean_name(name: str, content_type: str) -> str:
    kept = "".join(c for c in name if c.isprintable() and c not in '/\\"')[-120:].strip()
    return kept or f"file.{_EXTENSIONS.get(content_type, 'bin')}"


def attachment_check(upload: UploadedFile) -> str:
    """The file's content type; refused (4xx) when it is empty, too large or not of an
    allowed type."""
    size = upload.size or 0
    if size == 0:
        raise ApplicationError("empty_file", "The file is empty.")
    limit = settings.ATTACHMENT_MAX_BYTES
    if size > limit:
        raise ApplicationError(
            "file_too_large", f"The file is larger than {limit} bytes.", Kind.TOO_LARGE
        )
    upload.seek(0)
    content_type = sniff(upload.read())
    if content_type is None or content_type not in settings.ATTACHMENT_TYPES:
        allowed = ", ".join(settings.ATTACHMENT_TYPES) or "none"
        raise ApplicationError(
            "file_type_not_allowed",
            f"This kind of file is not accepted ({allowed}).",
            Kind.UNSUPPORTED_MEDIA_TYPE,
        )
    return content_type


def attachment_store(*, conversation: Conversation, upload: UploadedFile) -> Attachment:
    """Store one uploaded file of this conversation's user, once checked."""
    content_type = attachment_check(upload)
    attachment = Attachment(
        conversation=conversation,
        key=secrets.token_urlsafe(32),
        name=_clean_name(upload.name or "", content_type),
        content_type=content_type,
        size=upload.size or 0,
    )
    upload.seek(0)
    with transaction.atomic():
        attachment.file.save(
            f"{secrets.token_hex(16)}.{_EXTENSIONS[content_type]}", upload, save=False
        )
        attachment.save()
    return attachment


def attachments_of(*, conversation_id: int, keys: list[str]) -> list[Attachment]:
    """The conversation's attachments with these keys, in the given order."""
    found = {
        a.key: a for a in Attachment.objects.filter(conversation_id=conversation_id, key__in=keys)
    }
    return [found[key] for key in keys if key in found]


def attachments_check(*, bot: Bot, identity: str, keys: list[str]) -> None:
    """Refuse (400) keys that are not this user's own attachments."""
    conversation = Conversation.objects.filter(bot=bot, identity=identity).first()
    mine = attachments_of(conversation_id=conversation.pk, keys=keys) if conversation else []
    if len(mine) != len(set(keys)):
        raise ApplicationError(
            "unknown_attachment", "An attachment is not yours or no longer exists."
        )


def link(key: str, *, absolute: bool = False) -> str:
    """A link to the attachment with this key, signed now (no database read)."""
    path = reverse("attachment", args=[_SIGNER.sign(key)])
    return settings.SITE_ROOT + path if absolute else path


@dataclass(frozen=True)
class Shown:
    url: str
    name: str
    contentType: str
    size: int
    image: bool


def attachments_output(*, conversation_id: int, data: Any) -> list[dict[str, Any]]:
    """What the widget shows of a user message's attachments (fresh links)."""
    keys = data.get("attachments") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys:
        return []
    return [
        Shown(link(a.key), a.name, a.content_type, a.size, a.content_type in IMAGES).__dict__
        for a in attachments_of(conversation_id=conversation_id, keys=[str(k) for k in keys])
    ]


def upstream_links(keys: list[str]) -> list[str]:
    """Links the bot's platform fetches the files with (absolute, expiring). The keys were
    checked to be the user's own when the message was accepted."""
    return [link(key, absolute=True) for key in keys]


def attachment_file(request: HttpRequest, signed: str) -> FileResponse:
    """GET /attachments/<signed key>: the file, while the link's signature is fresh."""
    try:
        key = _SIGNER.unsign(signed, max_age=settings.ATTACHMENT_LINK_LIFETIME)
    except signing.BadSignature:
        raise Http404("No such file, or the link has expired.") from None
    attachment = Attachment.objects.filter(key=key).first()
    if attachment is None:
        raise Http404("No such file, or the link has expired.")
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type,
        as_attachment=attachment.content_type not in IMAGES,
        filename=attachment.name,
    )
    response["Cache-Control"] = "private, max-age=300"
    return response
