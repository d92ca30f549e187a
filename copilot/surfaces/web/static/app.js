// The little the pages need beyond htmx: clear the message box after a send, keep the
// newest message in view, and focus the box again. No inline handlers (the CSP forbids them).
(function () {
  "use strict";
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (form && form.id === "say" && e.detail.successful) {
      form.reset();
      var box = document.getElementById("text");
      if (box) { box.focus(); }
    }
  });
  // A new request clears the last answer: a refusal must not linger beside a later success.
  document.addEventListener("htmx:beforeRequest", function () {
    var flash = document.getElementById("flash");
    if (flash) { flash.textContent = ""; }
  });
  document.addEventListener("htmx:sseMessage", function (e) {
    if (e.detail && e.detail.type === "message") {
      var list = document.getElementById("messages");
      if (list && list.lastElementChild) { list.lastElementChild.scrollIntoView({block: "nearest"}); }
    }
  });
  // Enter sends, Shift+Enter makes a new line (as in every chat).
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t && t.id === "text" && e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      var form = document.getElementById("say");
      if (form && t.value.trim()) { form.requestSubmit(); }
    }
  });
})();
