// Starts Swagger UI from a file: the Content-Security-Policy allows no inline script.
window.addEventListener("load", function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: "#swagger-ui",
    // Offline: no request to the public validator.
    validatorUrl: null,
  });
});
