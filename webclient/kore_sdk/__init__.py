"""Kore-compatible routes under /kore/ for Kore's own Web SDK (npm `kore-web-sdk`), unchanged.

A site that runs the SDK in webhook mode points `koreAPIUrl` and `webhookConfig.webhookURL`
at this server (docs/kore-sdk.md). Sends go through our outbox like the widget's; polls and
history are answered from our store, in the shapes the SDK reads (`shapes`); Digital Forms
are offered as a link to our server-rendered form page (`views.FormPageView`); the SDK's
file-upload plugin uploads through our attachment service (`uploads`).
"""
