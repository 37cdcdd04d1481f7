"""The widget's language: English and Arabic (right to left), through Django's i18n.

The chat page takes `?lang=` (embed.js sets it from the snippet's `data-lang`, else the
embedding page's `<html lang>`), then the browser's Accept-Language. Its strings are in
the template and, for chat.js, in the JavaScript catalog served by `js_catalog`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import translation
from django.views.decorators.http import require_GET
from django.views.i18n import JavaScriptCatalog


def supported(code: str) -> str | None:
    """The supported language for a code such as "ar", "ar-EG" or "en_GB", or None."""
    if not code or len(code) > 35:
        return None
    try:
        return translation.get_supported_language_variant(code.replace("_", "-").lower())
    except LookupError:
        return None


def choose_language(request: HttpRequest) -> str:
    return supported(request.GET.get("lang", "")) or translation.get_language_from_request(request)


@require_GET
def js_catalog(request: HttpRequest, lang: str) -> HttpResponseBase:
    """GET /jsi18n/<lang>.js: chat.js's strings in that language (gettext, interpolate)."""
    with translation.override(supported(lang) or settings.LANGUAGE_CODE):
        response = JavaScriptCatalog.as_view(packages=["webclient"])(request)
    response["Cache-Control"] = "public, max-age=3600"
    return response
