"""Server-side rendering of bot and user messages (`messages`), with the helpers that read
untrusted payloads (`coerce`), check links (`sanitize`) and format Kore text (`text`).

Nothing is imported here, so `webclient.forms` can use those helpers while `messages` calls
into `webclient.forms` to render a Digital Form.
"""
