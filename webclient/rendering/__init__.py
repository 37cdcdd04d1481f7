"""The pieces of server-side rendering: Kore templates (`templates`, `charts`), Kore text
(`text`), and the helpers that read untrusted payloads (`coerce`) and check links
(`sanitize`). `webclient.render` puts them together for a whole message, with
`webclient.forms` for Digital Forms, which uses these helpers too.
"""
