// Starts Swagger UI on /schema. It is a file rather than an inline script so that the
// Content-Security-Policy can stay at script-src 'self'.
"use strict";

(function () {
  var root = document.getElementById("swagger-ui");
  // Swagger UI 5 reads the OpenAPI 3.1 document Litestar writes as it is.
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The default sends the document to validator.swagger.io: the page stays on this server.
    validatorUrl: null,
  });
})();
