"""Kore's Web SDK's file uploads (its file-upload plugin), stored by our attachment service
with our widget's checks, quotas and rate limits (webclient/api/attachments.py).

The plugin first asks `POST {koreAPIUrl}attachments/{streamId}/{channelType}/token` for a
`fileToken`, then POSTs the file as multipart (the field `file`, base64 with
`Content-Transfer-Encoding: base64`, as the plugin writes it, and a `thumbnail` copy we do
not keep) and reads `fileId` from the answer. Its webhook-mode address is
`{koreAPIUrl}attachments/file/{streamId}/{channelType}`; it falls back to Kore's
`{koreAPIUrl}1.1/attachment/file`, served here too. Both take the chat token as a bearer,
like every SDK route: an upload without one is refused, whatever the fileToken. The fileId
is our attachment's unguessable key, which a send names in Kore's attachment object
`{fileId, fileName, fileType}` (views.SendInputSerializer).
"""

from __future__ import annotations

import secrets
from typing import cast

from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from webclient.api.attachments import upload_accept
from webclient.api.throttles import SendPerIdentity, SendPerIp
from webclient.errors import ApplicationError
from webclient.kore_sdk.views import KoreView, channel_check
from webclient.sts import Principal


class FileTokenView(KoreView):
    """POST {koreAPIUrl}attachments/{streamId}/{channelType}/token: `{fileToken}`. The
    plugin only goes on with one; our upload is authenticated by the chat token, so the
    fileToken is a fresh random value that grants nothing."""

    throttle_classes = [SendPerIdentity, SendPerIp]

    def post(self, request: Request, bot_id: str, channel_type: str) -> Response:
        channel_check(self.principal(request, bot_id).bot, channel_type)
        return Response({"fileToken": secrets.token_urlsafe(24)})


class FileUploadView(KoreView):
    """POST {koreAPIUrl}attachments/file/{streamId}/{channelType} (and Kore's
    1.1/attachment/file): one file, as our widget's upload checks and stores it; `{fileId}`."""

    throttle_classes = [SendPerIdentity, SendPerIp]
    parser_classes = [MultiPartParser]

    def post(self, request: Request, bot_id: str = "", channel_type: str = "") -> Response:
        principal = cast(Principal, request.user)
        if bot_id:
            channel_check(self.principal(request, bot_id).bot, channel_type)
        files = request.FILES.getlist("file")
        if len(files) != 1:
            raise ApplicationError(
                "one_file", "Send exactly one file, as the multipart field 'file'."
            )
        stored = upload_accept(principal, files[0])
        return Response({"fileId": stored.key})
