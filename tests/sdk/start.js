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

  function start() {
    var chatWindowInstance = new KoreChatSDK.chatWindow();
    if (window.FileUploadPluginSDK) {
      // Kore's file-upload plugin sends the file with botOptions.accessToken, which webhook
      // mode never sets: a site that offers uploads copies the chat token there.
      chatWindowInstance.on("jwtSuccess", function (data) {
        chatWindowInstance.config.botOptions.accessToken = data.jwt;
      });
      chatWindowInstance.installPlugin(new FileUploadPluginSDK.KoreFileUploaderPlugin());
    }
    chatWindowInstance.show(chatConfig);
  }

  // `?fileUpload=1`: Kore's file-upload plugin too (its own bundle, unchanged), installed
  // before the chat window is shown, as the SDK's README does.
  if (query.get("fileUpload")) {
    var plugin = document.createElement("script");
    plugin.src = "file-upload-umd.js";
    plugin.onload = start;
    document.head.appendChild(plugin);
  } else {
    start();
  }
})();
