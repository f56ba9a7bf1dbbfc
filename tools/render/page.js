// Runs inside the gallery page: render one card with the official renderer and
// report what it said while parsing and validating it.
"use strict";

(function () {
  const AC = window.AdaptiveCards;
  // Teams renders TextBlock markdown and keeps single line breaks; the renderer
  // leaves markdown to the host, so the host does the same here.
  const markdown = window.markdownit({ html: false, linkify: false, breaks: true });
  AC.AdaptiveCard.onProcessMarkdown = function (text, result) {
    result.outputHtml = markdown.render(text);
    result.didProcess = true;
  };
  const hostConfig = new AC.HostConfig(window.HOST_CONFIG);

  function describe(event) {
    return {
      phase: AC.ValidationPhase[event.phase],
      event: AC.ValidationEvent[event.event],
      source: event.source && event.source.getJsonTypeName ? event.source.getJsonTypeName() : null,
      message: event.message,
    };
  }

  // attach: put the rendered card on the page (for a picture); a check skips the layout.
  window.renderCard = function (payload, attach) {
    const bubble = document.getElementById("bubble");
    bubble.innerHTML = "";
    const events = [];
    try {
      const card = new AC.AdaptiveCard();
      card.hostConfig = hostConfig;
      const context = new AC.SerializationContext();
      card.parse(payload, context);
      for (let i = 0; i < context.eventCount; i++) {
        events.push(describe(context.getEventAt(i)));
      }
      for (const event of card.validateProperties().validationEvents) {
        events.push(describe(event));
      }
      const element = card.render();
      if (!element) {
        return { events, error: "the renderer returned nothing" };
      }
      if (attach) {
        bubble.appendChild(element);
      }
      return { events, error: null };
    } catch (err) {
      return { events, error: String(err && err.stack ? err.stack : err) };
    }
  };
})();
