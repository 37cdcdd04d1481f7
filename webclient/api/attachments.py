"""POST /api/v1/attachments: a user uploads one file (multipart field `file`) to attach to a
message they send next (`attachments: [id]`). The answer names it and links to it."""

from __future__ import annotations

from typing import cast

from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webclient import attachments, services
from webclient.api.auth import HasChatToken
from webclient.api.permissions import OriginAllowed
from webclient.api.serializers import AttachmentOutputSerializer, ErrorSerializer
from webclient.api.throttles import SendPerIdentity, SendPerIp
from webclient.errors import ApplicationError
from webclient.models import Attachment
from webclient.sts import Principal


class AttachmentsView(APIView):
    permission_classes = [HasChatToken, OriginAllowed]
    throttle_classes = [SendPerIdentity, SendPerIp]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="attachment_upload",
        tags=["attachments"],
        summary="Upload one file to attach to the next message",
        description="Its type is checked by content; name its id in `attachments`.",
        request={
            "multipart/form-data": inline_serializer("Upload", {"file": serializers.FileField()})
        },
        responses={
            201: AttachmentOutputSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            413: ErrorSerializer,
            415: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        principal = cast(Principal, request.user)
        files = request.FILES.getlist("file")
        if len(files) != 1:
            raise ApplicationError(
                "one_file", "Send exactly one file, as the multipart field 'file'."
            )
        stored = upload_accept(principal, files[0])
        output = attachments.attachments_output(
            conversation_id=stored.conversation_id, data={"attachments": [stored.key]}
        )[0]
        return Response({"id": stored.key, **output}, status=status.HTTP_201_CREATED)


def upload_accept(principal: Principal, upload: UploadedFile) -> Attachment:
    """One file the user uploads, checked (type by content, size, quotas) and stored. Checked
    once, before the conversation is created: a refused file changes nothing. Our widget's
    uploads and Kore's Web SDK's (webclient/kore_sdk/uploads.py) both come through here."""
    content_type = attachments.attachment_check(upload)
    attachments.attachment_quota_check(
        bot=principal.bot, identity=principal.identity, size=upload.size or 0
    )
    conversation = services.conversation_get_or_create(
        bot=principal.bot, identity=principal.identity
    )
    return attachments.attachment_store(
        conversation=conversation, upload=upload, content_type=content_type
    )
