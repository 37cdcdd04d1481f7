"""Files users attach to their messages.

A file is checked before anything is stored: not empty, at most ATTACHMENT_MAX_BYTES, and of
one of ATTACHMENT_TYPES as told by its content (magic numbers; text must be UTF-8 without
control characters), never by its name or the browser's word. It is stored through Django's
storage API (STORAGES["attachments"]) under a random name, and served only through links
that carry the attachment's unguessable key and a signature that expires after
ATTACHMENT_LINK_LIFETIME seconds: the bot's platform fetches it with such a link (sent
upstream as `message.attachments`), and the widget shows it with a fresh one each time it
reads the conversation.

A file is checked once, by C code (the UTF-8 codec and bytes.translate, a chunk at a time):
no Python step per byte, so a 10 MB text costs milliseconds (docs/performance.md). Each
identity may hold ATTACHMENT_QUOTA_PER_IDENTITY bytes of files it has not sent yet, each
conversation ATTACHMENT_QUOTA_PER_CONVERSATION bytes of files (429 `over_quota` past
either); a file not sent within ATTACHMENT_UNSENT_GRACE seconds is swept. Deleting an
attachment, or its message or conversation, deletes its stored file through the storage
API (so S3 too), once the deletion commits.
"""

from __future__ import annotations

import codecs
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Min, Q, Sum
from django.http import FileResponse, Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone

from webclient.errors import ApplicationError, Kind
from webclient.models import Attachment, Bot, Conversation, Message

log = logging.getLogger(__name__)

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
# Control characters a text may not hold (tab, line feed, form feed and carriage return it
# may), deleted by bytes.translate: a text is refused when that shortens a chunk.
_TEXT_CONTROLS = bytes(sorted(set(range(32)) - {9, 10, 12, 13}))
# Bytes of a text checked at a time (Django's own upload chunk): the per-chunk Python is
# nothing next to the C work, and each chunk's copies (the chunk, what translate and the
# codec make of it) stay small enough to be reused memory, not fresh pages from the kernel.
CHECK_CHUNK = 64 * 1024
# The longest magic number looked for (WebP's is at bytes 8 to 12).
_MAGIC_BYTES = 12
# What the types are called in messages to people.
TYPE_NAMES = {
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/gif": "GIF image",
    "image/webp": "WebP image",
    "application/pdf": "PDF document",
    "text/plain": "text file",
}


def _magic_type(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _is_text(file: File) -> bool:
    """UTF-8 without control characters, every byte of it: checked a chunk at a time by the
    codec and bytes.translate, both C (an ASCII chunk needs no decoding)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in file.chunks(CHECK_CHUNK):
            if len(chunk.translate(None, _TEXT_CONTROLS)) != len(chunk):
                return False
            pending, _ = decoder.getstate()
            if pending or not chunk.isascii():
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff(file: File) -> str | None:
    """The content type the file is, among those we know, or None: by its magic number, else
    text when all of it is."""
    file.seek(0)
    known = _magic_type(file.read(_MAGIC_BYTES))
    if known is not None:
        return known
    return "text/plain" if _is_text(file) else None


def _clean_name(name: str, content_type: str) -> str:
    kept = "".join(c for c in name if c.isprintable() and c not in '/\\"')[-120:].strip()
    return kept or f"file.{_EXTENSIONS.get(content_type, 'bin')}"


def attachment_check(upload: UploadedFile) -> str:
    """The file's content type; refused (4xx) when it is empty, too large or not of an
    allowed type. Once per upload: attachment_store takes its answer."""
    size = upload.size or 0
    if size == 0:
        raise ApplicationError("empty_file", "The file is empty.")
    limit = settings.ATTACHMENT_MAX_BYTES
    if size > limit:
        raise ApplicationError(
            "file_too_large", f"The file is larger than {limit} bytes.", Kind.TOO_LARGE
        )
    content_type = sniff(upload)
    if content_type is None or content_type not in settings.ATTACHMENT_TYPES:
        allowed = ", ".join(TYPE_NAMES.get(t, t) for t in settings.ATTACHMENT_TYPES) or "none"
        raise ApplicationError(
            "file_type_not_allowed",
            f"This kind of file is not accepted. Accepted: {allowed}.",
            Kind.UNSUPPORTED_MEDIA_TYPE,
        )
    return content_type


def over_quota(message: str, retry_after: int | None = None) -> ApplicationError:
    return ApplicationError("over_quota", message, Kind.RATE_LIMITED, retry_after=retry_after)


def attachment_quota_check(*, bot: Bot, identity: str, size: int) -> None:
    """Refuse (429 `over_quota`) a file of `size` bytes that would take the identity's
    files not sent yet past ATTACHMENT_QUOTA_PER_IDENTITY, or its conversation's files past
    ATTACHMENT_QUOTA_PER_CONVERSATION (0: no limit). Checked before each upload: uploads
    made at the same moment may pass it together."""
    per_identity: int = settings.ATTACHMENT_QUOTA_PER_IDENTITY
    per_conversation: int = settings.ATTACHMENT_QUOTA_PER_CONVERSATION
    held = Attachment.objects.filter(
        conversation__bot=bot, conversation__identity=identity
    ).aggregate(
        total=Sum("size"),
        unsent=Sum("size", filter=Q(message__isnull=True)),
        oldest_unsent=Min("created_at", filter=Q(message__isnull=True)),
    )
    if per_conversation and (held["total"] or 0) + size > per_conversation:
        raise over_quota(
            f"This conversation holds as many files as it may ({per_conversation} bytes)."
        )
    if per_identity and (held["unsent"] or 0) + size > per_identity:
        # Space comes back as files are sent, or when the oldest unsent one is swept (none:
        # this file alone is larger than the quota, and waiting will not help).
        oldest = held["oldest_unsent"]
        wait = None
        if oldest is not None:
            swept_at = oldest + timedelta(seconds=settings.ATTACHMENT_UNSENT_GRACE)
            wait = max(1, int((swept_at - timezone.now()).total_seconds()) + 1)
        raise over_quota(
            f"You have uploaded as many files as you may ({per_identity} bytes) "
            "without sending them.",
            retry_after=wait,
        )


def attachment_store(
    *, conversation: Conversation, upload: UploadedFile, content_type: str
) -> Attachment:
    """Store one uploaded file of this conversation's user, of the content type
    attachment_check found."""
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


def attachments_attach(*, message: Message, keys: list[str]) -> None:
    """The files a user message names are sent: no longer swept, and deleted with it."""
    Attachment.objects.filter(
        conversation_id=message.conversation_id, key__in=keys, message__isnull=True
    ).update(message=message)


# Most unsent uploads one sweep removes (the next takes the rest).
SWEEP_BATCH = 500


def attachments_unsent_sweep() -> int:
    """Delete the uploads no message sent within ATTACHMENT_UNSENT_GRACE seconds of their
    upload, and so their files; how many. Run with the relay's other chores
    (webclient/kore/dispatcher.py) and by `manage.py purge_conversations --unsent-files`."""
    cutoff = timezone.now() - timedelta(seconds=settings.ATTACHMENT_UNSENT_GRACE)
    stale = list(
        Attachment.objects.filter(message__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if not stale:
        return 0
    # Not sent meanwhile: a message that names one now keeps it.
    deleted, _ = Attachment.objects.filter(pk__in=stale, message__isnull=True).delete()
    if deleted:
        log.info("swept %d upload(s) never sent", deleted)
    return deleted


def attachment_file_delete(sender: Any, instance: Attachment, **kwargs: Any) -> None:
    """post_delete of an Attachment, however it went (itself, its message, its conversation,
    a purge): its file leaves the storage once the deletion commits (a rolled-back delete
    keeps it)."""
    name = instance.file.name
    if name:
        storage = instance.file.storage
        transaction.on_commit(lambda: _file_delete(storage, name), using=kwargs.get("using"))


def _file_delete(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        log.exception("could not delete the attachment file %s", name)


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


def upstream_attachments(*, conversation_id: int, keys: list[str]) -> list[dict[str, str]]:
    """The message's files as Kore's webhook documents attachments: objects with the `url`
    the platform fetches the file from (absolute, expiring), and its `fileName` and
    `fileType` ("image", "video", "audio", else the name's extension, as Kore's "txt").
    The keys were checked to be the user's own when the message was accepted."""
    return [
        {
            "url": link(attachment.key, absolute=True),
            "fileName": attachment.name,
            "fileType": _file_type(attachment),
        }
        for attachment in attachments_of(conversation_id=conversation_id, keys=keys)
    ]


def _file_type(attachment: Attachment) -> str:
    major = attachment.content_type.partition("/")[0]
    if major in ("image", "video", "audio"):
        return major
    return attachment.name.rpartition(".")[2].lower() if "." in attachment.name else "file"


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
