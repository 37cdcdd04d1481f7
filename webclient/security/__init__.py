"""Request hardening that sits around the API: headers, CORS, rate limits, body caps.

See docs/security.md for the threat model these modules answer.
"""
