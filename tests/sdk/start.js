// Starts Kore's Web SDK in webhook mode against this origin, configured as the SDK's README
// and kore-config.ts describe it (10.1.12 reads only enable, webhookURL and apiVersion from
// webhookConfig). The test passes the per-install ids in the query string.
(function () {
  "use strict";
  var query = new URLSearchParams(window.location.search);
  var origin = window.location.origin;
  var botId = query.get("botId");

  var chatConfig = KoreChatSDK.chatConfig;
  var botOptions = chatConfig.botOptions;
  // SDKApp's token endpoint, which this server implements; the secret is not checked here.
  botOptions.JWTUrl = origin + "/api/users/sts";
  botOptions.userIdentity = query.get("user");
  botOptions.clientId = query.get("clientId");
  botOptions.clientSecret = "not-needed-by-our-sts";
  botOptions.botInfo = { name: query.get("botName"), _id: botId };
  // The platform's API root: botmeta, chathistory, and (minus "/api/") the poll URL; and the
  // webhook. The emulated platform's by default; a test of the relay passes its /kore/ ones
  // (docs/kore-sdk.md), the only change an existing SDK site makes.
  botOptions.koreAPIUrl = query.get("koreAPIUrl") || origin + "/emulator/api/";
  botOptions.webhookConfig = {
    enable: true,
    webhookURL: query.get("webhookURL") || origin + "/emulator/chatbot/v2/webhook/" + botId,
    apiVersion: Number(query.get("apiVersion") || 2),
  };
  // Open at once instead of waiting for a click on the minimised avatar.
  chatConfig.minimizeMode = false;

  var chatWindowInstance = new KoreChatSDK.chatWindow();
  chatWindowInstance.show(chatConfig);
})();
