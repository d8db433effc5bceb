// Swagger UI for the document this server serves. A file of its own, not an inline script,
// so the page's Content-Security-Policy can allow scripts from this server only.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    displayRequestDuration: true,
    // Never sent to a third party: the default would fetch a badge from validator.swagger.io.
    validatorUrl: null,
  });
});
