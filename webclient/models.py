"""Bots, their conversations and the append-only message log.

A Message's id is the delivery cursor: strictly increasing, never reused. A user message is
also its own outbox entry: `status=accepted` means stored here and not yet forwarded.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage, storages
from django.core.validators import RegexValidator
from django.db import models
from django.dispatch import Signal

from webclient.fields import EncryptedTextField
from webclient.rendering.sanitize import safe_media
from webclient.security.upstream import UpstreamNotAllowed, check_upstream

# Sent when a queryset update changed bots (which sends no post_save): caches of bots
# (webclient/botcache.py) must forget them, e.g. when an admin ends a rotation grace.
bots_updated = Signal()


class BotQuerySet(models.QuerySet["Bot"]):
    def update(self, **kwargs: object) -> int:
        changed = super().update(**kwargs)
        if changed:
            bots_updated.send(sender=Bot)
        return changed


class Bot(models.Model):
    class ApiVersion(models.IntegerChoices):
        V1 = 1, "V1"
        V2 = 2, "V2"

    class Mode(models.TextChoices):
        SYNC = "sync", "Synchronous (V1: the answer in the response; V2: with polling)"
        ASYNC = "async", "Asynchronous (bot messages POSTed to our callback)"

    class JwtAlgorithm(models.TextChoices):
        HS256 = "HS256", "HS256 (client secret)"
        HS512 = "HS512", "HS512 (client secret)"
        RS256 = "RS256", "RS256 (your RSA private key)"
        RS512 = "RS512", "RS512 (your RSA private key)"

    class JweAlgorithm(models.TextChoices):
        RSA_OAEP = "RSA-OAEP", "RSA-OAEP"
        RSA1_5 = "RSA1_5", "RSA1_5 (legacy)"

    class JweEncryption(models.TextChoices):
        A128CBC_HS256 = "A128CBC-HS256", "A128CBC-HS256"
        A128GCM = "A128GCM", "A128GCM"
        A256GCM = "A256GCM", "A256GCM"

    class IdentityMode(models.TextChoices):
        ANONYMOUS = "anonymous", "Anonymous: the server chooses the identity"
        VERIFIED = "verified", "Verified: identity signed by the embedding site"
        TRUST_BROWSER = "trust_browser", "Trust the browser's identity (insecure)"

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    upstream_url = models.URLField(
        blank=True,
        help_text="Kore host, e.g. https://bots.kore.ai. Blank: this server's embedded emulator.",
    )
    bot_id = models.CharField("bot id", max_length=64, help_text="st-…")
    client_id = models.CharField("client id", max_length=64, help_text="cs-…")
    client_secret = EncryptedTextField()
    # Kept for one token lifetime after a rotation, so that tokens signed before it (and so
    # anonymous users' conversations) stay valid until refreshed under the new secret.
    previous_client_secret = EncryptedTextField(blank=True)
    client_secret_rotated_at = models.DateTimeField(null=True, blank=True)
    # Ending a rotation's grace, or rotating again, moves this to that rotation's time:
    # every token refreshed from one the previous secret signed (such tokens carry the
    # rotation's time) is refused from then on (webclient/sts.py).
    tokens_valid_after = models.DateTimeField(null=True, blank=True, editable=False)
    api_version = models.PositiveSmallIntegerField(
        choices=ApiVersion.choices, default=ApiVersion.V2
    )
    mode = models.CharField(max_length=5, choices=Mode.choices, default=Mode.SYNC)
    hook_instance_id = models.CharField(
        max_length=64, blank=True, help_text="ivrInst-… for a second or later webhook channel."
    )
    callback_secret = EncryptedTextField(help_text="Path token of our callback (POST_URL).")
    # How the tokens the relay sends upstream are made, as the Kore app requires
    # (webclient/kore/tokens.py). The browser's tokens are always HS256 with the client secret.
    jwt_algorithm = models.CharField(
        "JWT signing algorithm",
        max_length=5,
        choices=JwtAlgorithm.choices,
        default=JwtAlgorithm.HS256,
        help_text="As chosen for the app in Kore. RS256/RS512 sign with the private key below.",
    )
    jwt_private_key = EncryptedTextField(
        "JWT private key",
        blank=True,
        help_text="PEM RSA private key, for RS256/RS512 apps (Kore holds its public key).",
    )
    jwe_enabled = models.BooleanField(
        "encrypt tokens (JWE)",
        default=False,
        help_text="For apps with JWE on: every token is encrypted to Kore's public key.",
    )
    jwe_public_key = models.TextField(
        "Kore's JWE public key",
        blank=True,
        help_text="The JWK Kore shows under the client secret (JSON with kty, n, e, kid).",
    )
    jwe_alg = models.CharField(
        "JWE key algorithm",
        max_length=8,
        choices=JweAlgorithm.choices,
        default=JweAlgorithm.RSA_OAEP,
    )
    jwe_enc = models.CharField(
        "JWE content encryption",
        max_length=13,
        choices=JweEncryption.choices,
        default=JweEncryption.A128CBC_HS256,
    )
    preferred_channel = models.CharField(
        "preferredChannelForResponse",
        max_length=32,
        blank=True,
        default="rtm",
        help_text=(
            'Which channel\'s answers Kore sends: "rtm" asks for the Web/Mobile SDK '
            "channel's (their templates, and Digital Forms as a link to Kore's hosted form); "
            "blank sends nothing, and Kore answers with the webhook channel's own (Digital "
            "Forms as a form definition, rendered here)."
        ),
    )
    send_v1_events = models.BooleanField(
        "send events to V1",
        default=False,
        help_text=(
            "Kore's V1 webhook does not support events (ON_CONNECT, SESSION_CLOSURE); leave "
            "off unless your platform accepts them. V2 always gets them."
        ),
    )
    anonymous_users_anonymous = models.BooleanField(
        "tell Kore anonymous visitors are anonymous",
        default=False,
        help_text=(
            "Send isAnonymous: true for visitors the server named (anon-…): Kore then keeps "
            "no user record for them. Off, as Kore's Web SDK does."
        ),
    )
    identity_mode = models.CharField(
        max_length=16, choices=IdentityMode.choices, default=IdentityMode.ANONYMOUS
    )
    identity_secret = EncryptedTextField(
        blank=True, help_text="HMAC key the embedding site signs identities with."
    )
    allowed_origins = models.TextField(
        blank=True, help_text="Origins that may embed the widget, one per line."
    )
    custom_data = models.JSONField(default=dict, blank=True)
    meta_tags = models.JSONField(default=dict, blank=True)
    merge_identity = models.BooleanField(default=False)
    # The last "Check connection" (admin or check_upstream): when, and what it said.
    last_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(null=True, editable=False)
    last_check_summary = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The widget's look (webclient/theming.py turns it into CSS custom properties).
    class LauncherPosition(models.TextChoices):
        RIGHT = "right", "Bottom right"
        LEFT = "left", "Bottom left"

    class ColorScheme(models.TextChoices):
        AUTO = "auto", "Follow the visitor's system"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    theme_title = models.CharField(
        "widget title", max_length=100, blank=True, help_text="Blank: the bot's name."
    )
    theme_color = models.CharField(
        "brand colour",
        max_length=7,
        blank=True,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour as #rrggbb.")],
        help_text="#rrggbb; text on it is black or white, whichever contrasts more.",
    )
    theme_avatar_url = models.URLField(
        "avatar URL", blank=True, help_text="An http(s) image; blank: the title's initial."
    )
    theme_launcher_position = models.CharField(
        "launcher position",
        max_length=5,
        choices=LauncherPosition.choices,
        default=LauncherPosition.RIGHT,
    )
    theme_welcome_text = models.CharField(
        "welcome text", max_length=500, blank=True, help_text="Shown above the conversation."
    )
    page_context_keys = models.TextField(
        "page context keys",
        blank=True,
        help_text=(
            "customData and metaTags keys the embedding page may set (data-custom-data, "
            "data-meta-tags, KoreChat.setContext), one per line; any other key is dropped, "
            "and the bot's own customData and metaTags above always win."
        ),
    )
    theme_color_scheme = models.CharField(
        "colour scheme", max_length=5, choices=ColorScheme.choices, default=ColorScheme.AUTO
    )

    objects = BotQuerySet.as_manager()

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        errors = {}
        try:
            check_upstream(self.upstream_url)
        except UpstreamNotAllowed as exc:
            errors["upstream_url"] = str(exc)
        if self.theme_avatar_url and safe_media(self.theme_avatar_url) is None:
            errors["theme_avatar_url"] = "An http or https image address."
        if errors:
            raise ValidationError(errors)

    @property
    def upstream_base(self) -> str:
        return self.upstream_url.rstrip("/") or f"{settings.SITE_ROOT}/emulator"

    @property
    def context_keys(self) -> set[str]:
        return {line.strip() for line in self.page_context_keys.splitlines() if line.strip()}

    @property
    def origins(self) -> list[str]:
        return [line.strip() for line in self.allowed_origins.splitlines() if line.strip()]


class Conversation(models.Model):
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="conversations")
    identity = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(auto_now=True)
    # True once the platform was told this session started (session.new / ON_CONNECT).
    session_started = models.BooleanField(default=False)
    # True while the bot works on the user's last message (typing indicator).
    pending = models.BooleanField(default=False)
    # Task state from the last answer: endOfTask, endReason, completedTaskName…
    task_state = models.JSONField(default=dict, blank=True)
    # Until then, a callback that names no user may be routed here: the conversation's last
    # message went to an asynchronous bot, and it is the only one of its bot waiting
    # (webclient/kore/callbacks.py).
    awaiting_callback_until = models.DateTimeField(null=True, blank=True)
    # Messages forwarded to an asynchronous bot whose task end has not come back yet: the
    # window above closes when none is left.
    callbacks_awaited = models.PositiveIntegerField(default=0)
    # The process whose dispatcher serves this conversation's outbox, until the lease lapses
    # (renewed while it serves): one process at a time, so order holds across processes.
    dispatch_owner = models.CharField(max_length=32, blank=True)
    dispatch_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "identity"], name="one_conversation_per_identity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bot.slug}:{self.identity}"

    @property
    def channel(self) -> str:
        """The key long-polls wait on and stores publish to."""
        return self.channel_of(self.bot_id, self.identity)

    @staticmethod
    def channel_of(bot_id: int, identity: str) -> str:
        return f"{bot_id}:{identity}"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        BOT = "bot"
        SYSTEM = "system"

    class Kind(models.TextChoices):
        TEXT = "text"
        TEMPLATE = "template"
        FORM = "form"
        MEDIA = "media"
        EVENT = "event"
        ERROR = "error"

    class Status(models.TextChoices):
        ACCEPTED = "accepted"
        SENT = "sent"
        FAILED = "failed"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=6, choices=Role.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    data = models.JSONField(null=True, blank=True)
    client_message_id = models.CharField(max_length=64, null=True, blank=True)
    platform_message_id = models.CharField(max_length=128, null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    # Outbox bookkeeping for user messages: set when the dispatcher starts forwarding.
    forward_started_at = models.DateTimeField(null=True, blank=True)
    # Renewed by the forwarding process while the call is in flight; once it lapses that
    # process is gone and the message is failed rather than sent twice (webclient/kore/).
    forward_lease_until = models.DateTimeField(null=True, blank=True)
    # The request that sent the user message this one is (or answers): logs follow it.
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_message_id"],
                condition=models.Q(client_message_id__isnull=False),
                name="unique_client_message_id",
            ),
            models.UniqueConstraint(
                fields=["conversation", "platform_message_id"],
                condition=models.Q(platform_message_id__isnull=False),
                name="unique_platform_message_id",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "id"], name="message_cursor"),
            models.Index(
                fields=["status", "id"],
                condition=models.Q(status="accepted"),
                name="message_outbox",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.role}: {self.text[:40]}"


class CallbackDelivery(models.Model):
    """A V1 callback body (which carries no message id) already stored for a conversation.

    `digest` covers the body and the user message it answers; the unique key makes two
    concurrent deliveries of the same body store it once (webclient/kore/callbacks.py).
    `seen_at` starts the de-duplication window; a repeat after it stores the body again.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="callback_deliveries"
    )
    digest = models.CharField(max_length=64)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "digest"], name="one_callback_delivery_per_digest"
            )
        ]
        indexes = [models.Index(fields=["seen_at"], name="callback_delivery_seen")]

    def __str__(self) -> str:
        return f"{self.conversation_id}:{self.digest}"


class UndeliverableCallback(models.Model):
    """A body the platform POSTed to our callback that could not be routed to a
    conversation: kept, with why, for an operator to read (never silently dropped)."""

    class Reason(models.TextChoices):
        NO_RECIPIENT = "no_recipient", "Names no user, and no single conversation awaits it"
        UNKNOWN_USER = "unknown_user", "Names a user with no conversation"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="undeliverable_callbacks")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    recipient = models.CharField(max_length=255, blank=True)
    body = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.bot.slug}: {self.reason} at {self.received_at:%Y-%m-%d %H:%M:%S}"


def attachment_storage() -> Storage:
    """Where attachments live: STORAGES["attachments"] (local disk unless configured)."""
    return storages["attachments"]


class Attachment(models.Model):
    """A file a user attached (webclient/attachments.py). `key` is unguessable; the links
    that serve the file also carry an expiring signature. `message` is the message that
    sent it: none until then (an upload not sent within ATTACHMENT_UNSENT_GRACE is swept).
    Deleting the row, or its message or conversation, deletes the stored file."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="files"
    )
    key = models.CharField(max_length=64, unique=True)
    file = models.FileField(storage=attachment_storage, upload_to="%Y/%m/", max_length=255)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(message__isnull=True),
                name="attachment_unsent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.content_type}, {self.size} bytes)"
